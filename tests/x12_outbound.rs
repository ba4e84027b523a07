//! Outbound 940 and 846: tables written, parsed without problems, and mapped back to the same
//! tables; envelope counts; the exact errors for tables that cannot be written.

use tallyman::formats::x12::{self, Column, Envelope, Separators, Table, X12Error};

/// Marks an absent (null) cell in the row literals below; "" is an empty string cell.
const NULL: &str = "<null>";

fn envelope(separators: Separators) -> Envelope {
    Envelope {
        sender_qualifier: "ZZ".into(),
        sender: "TALLYMAN".into(),
        receiver_qualifier: "ZZ".into(),
        receiver: "PARTNER".into(),
        app_sender: "TALLYMAN".into(),
        app_receiver: "PARTNER".into(),
        date: "20260101".into(),
        time: "0930".into(),
        interchange_control: 42,
        group_control: 7,
        first_set_control: 1,
        usage: 'T',
        separators,
    }
}

/// The default separators, and pipe/colon with LF-terminated segments and no repetition.
fn separators() -> [Separators; 2] {
    [
        Separators::default(),
        Separators {
            element: b'|',
            component: Some(b':'),
            repetition: None,
            segment: b'\n',
        },
    ]
}

fn table(columns: &[&str], rows: &[&[&str]]) -> Table {
    let cell = |v: &str| (v != NULL).then(|| v.to_string());
    Table {
        name: "input".into(),
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Column::from_values(name, rows.iter().map(|r| r.get(i).copied().and_then(cell)))
            })
            .collect(),
    }
}

type Rows = Vec<Vec<Option<String>>>;

/// What the reader must give back for one cell: trimmed, blank is absent, else `default`.
fn norm(t: &Table, row: usize, column: &str, default: Option<&str>) -> Option<String> {
    let v = t.get(row, column).map(str::trim).filter(|v| !v.is_empty());
    v.or(default).map(str::to_string)
}

/// Row indexes grouped by `key`, in order of first appearance.
fn grouped(t: &Table, key: &str) -> Vec<(Option<String>, Vec<usize>)> {
    let mut out: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for row in 0..t.rows() {
        let k = norm(t, row, key, None);
        match out.iter_mut().find(|(g, _)| *g == k) {
            Some((_, rows)) => rows.push(row),
            None => out.push((k, vec![row])),
        }
    }
    out
}

const HEADER_940: [&str; 10] = [
    "order_number",
    "po_number",
    "ship_to",
    "ship_to_id",
    "ship_to_address",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal",
    "carrier",
    "requested_ship_date",
];
const LINES_940: [&str; 7] = [
    "order_number",
    "line_number",
    "sku",
    "sku_qualifier",
    "upc",
    "quantity",
    "unit",
];

/// Context columns of set `n` (0-based) of the test envelope.
fn ctx(n: usize) -> Vec<Option<String>> {
    let s = |v: &str| Some(v.to_string());
    vec![s("000000042"), s("7"), Some(format!("{:04}", n + 1))]
}

fn expected_940(t: &Table) -> (Rows, Rows) {
    let (mut header, mut lines) = (Vec::new(), Vec::new());
    for (n, (_, rows)) in grouped(t, "order_number").iter().enumerate() {
        let first = rows[0];
        let mut h = ctx(n);
        h.extend(HEADER_940.iter().map(|c| norm(t, first, c, None)));
        header.push(h);
        for (pos, &row) in rows.iter().enumerate() {
            let position = (pos + 1).to_string();
            let mut l = ctx(n);
            l.push(norm(t, row, "order_number", None));
            l.push(norm(t, row, "line_number", Some(&position)));
            l.push(norm(t, row, "sku", None));
            l.push(norm(t, row, "sku_qualifier", Some("VN")));
            l.push(norm(t, row, "upc", None));
            l.push(norm(t, row, "quantity", None));
            l.push(norm(t, row, "unit", Some("EA")));
            lines.push(l);
        }
    }
    (header, lines)
}

fn expected_846(t: &Table) -> Rows {
    let mut out = Vec::new();
    for (n, (_, rows)) in grouped(t, "report_id").iter().enumerate() {
        for &row in rows {
            let location = norm(t, row, "location", None);
            let wh = location.as_ref().map(|_| "WH");
            let mut r = ctx(n);
            r.push(norm(t, row, "report_id", None));
            r.push(norm(t, row, "report_date", None));
            r.push(norm(t, row, "location_qualifier", wh));
            r.push(location);
            r.push(norm(t, row, "sku", None));
            r.push(norm(t, row, "sku_qualifier", Some("VN")));
            r.push(norm(t, row, "upc", None));
            r.push(norm(t, row, "quantity_qualifier", Some("33")));
            r.push(norm(t, row, "quantity", None));
            r.push(norm(t, row, "unit", Some("EA")));
            out.push(r);
        }
    }
    out
}

/// The rows of a mapped table (context columns first, then `columns`).
fn rows_of(tables: &[Table], name: &str, columns: &[&str]) -> Rows {
    let t = tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name}"));
    let names = ["interchange_control", "group_control", "set_control"];
    let all: Vec<&str> = names.iter().chain(columns).copied().collect();
    (0..t.rows())
        .map(|r| {
            all.iter()
                .map(|c| t.get(r, c).map(str::to_string))
                .collect()
        })
        .collect()
}

/// Parses `written`, checks the envelope, and returns its tables.
fn read_back(written: &[u8], functional_id: &str, sets: usize) -> Vec<Table> {
    let text = String::from_utf8_lossy(written);
    let parsed = x12::parse(written);
    assert!(parsed.problems.is_empty(), "{:?}\n{text}", parsed.problems);
    let inspection = x12::inspect(written);
    let c = &inspection.counts;
    assert_eq!(
        (c.interchanges, c.groups, c.sets, c.problems),
        (1, 1, sets, 0)
    );
    let ic = &parsed.interchanges[0];
    assert_eq!(
        (ic.version.as_str(), ic.control.as_str()),
        ("00401", "000000042")
    );
    let g = &ic.groups[0];
    assert_eq!(
        (g.functional_id.as_str(), g.version.as_str()),
        (functional_id, "004010")
    );
    x12::map_tables(&parsed)
}

struct Case940 {
    name: &'static str,
    columns: &'static [&'static str],
    rows: &'static [&'static [&'static str]],
    orders: usize,
}

#[rustfmt::skip]
const CASES_940: &[Case940] = &[
    Case940 {
        name: "one order, one line, required columns only",
        columns: &["order_number", "sku", "quantity"],
        rows: &[&["A1", "SKU1", "5"]],
        orders: 1,
    },
    Case940 {
        name: "several orders, interleaved rows, all optional columns",
        columns: &[
            "order_number", "po_number", "ship_to", "ship_to_id", "ship_to_address",
            "ship_to_city", "ship_to_state", "ship_to_postal", "carrier", "requested_ship_date",
            "line_number", "sku", "sku_qualifier", "upc", "quantity", "unit", "notes",
        ],
        rows: &[
            &["O-1", "PO1", "Store 1", "S001", "1 Main St", "Springfield", "IL", "62701", "UPSN", "20260105", "10", "AB-1", "VN", "012345678905", "12", "CA", "ignored"],
            &["O-2", "PO2", "Store 2", "S002", "2 Elm St", "Dayton", "OH", "45402", "FDEG", "20260106", "1", "CD-2", "SK", "", "3", "EA", "x"],
            &["O-1", "PO1", "Store 1", "S001", "1 Main St", "Springfield", "IL", "62701", "UPSN", "20260105", "20", "AB-2", "BP", "", "1.5", "LB", "y"],
            &["O-3", "", "", "", "", "", "", "", "", "", "7", "EF-3", "IN", "", "0.25", "PC", ""],
            &["O-1", "PO1", "Store 1", "S001", "1 Main St", "Springfield", "IL", "62701", "UPSN", "20260105", "30", "AB-3", "VN", "", "2", "CA", ""],
        ],
        orders: 3,
    },
    Case940 {
        name: "empty optional values: empty strings, nulls, blanks, partial address",
        columns: &[
            "order_number", "po_number", "ship_to", "ship_to_id", "ship_to_city", "carrier",
            "line_number", "sku", "sku_qualifier", "upc", "quantity", "unit",
        ],
        rows: &[
            &["B1", "", NULL, "ID9", "", "  ", "", "S1", "", NULL, "4", ""],
            &["B1", NULL, "", "ID9", NULL, "", NULL, "S2", NULL, "", "6", NULL],
            &["B2", "P2", NULL, NULL, "Reno", NULL, "  ", "S3", "  ", "", "1", " "],
        ],
        orders: 2,
    },
    Case940 {
        name: "spaces and punctuation, padded values, decimal quantities",
        columns: &[
            "order_number", "po_number", "ship_to", "ship_to_address", "ship_to_city",
            "ship_to_state", "ship_to_postal", "carrier", "sku", "quantity", "unit",
        ],
        rows: &[
            &[" ORD 7/A ", "PO #12-B", "ACME & SONS, INC.", "12 O'HARE ST. (DOCK 4)", "ST. LOUIS", "MO", "63101-1234", "UPS GROUND; 2-DAY", "X.1 @ \"Q\"", "10.500", "EA"],
            &["ORD 7/A", "PO #12-B", "ACME & SONS, INC.", "12 O'HARE ST. (DOCK 4)", "ST. LOUIS", "MO", "63101-1234", "UPS GROUND; 2-DAY", "Y=2 + 3%", "-3", "EA"],
        ],
        orders: 1,
    },
];

#[test]
fn written_940_reads_back_to_the_same_tables() {
    for case in CASES_940 {
        for seps in separators() {
            let input = table(case.columns, case.rows);
            let written = x12::write_940(&envelope(seps), &input)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let tables = read_back(&written, "OW", case.orders);
            let (header, lines) = expected_940(&input);
            assert_eq!(header.len(), case.orders, "{}", case.name);
            assert_eq!(
                rows_of(&tables, "x12_940_header", &HEADER_940),
                header,
                "{}",
                case.name
            );
            assert_eq!(
                rows_of(&tables, "x12_940_lines", &LINES_940),
                lines,
                "{}",
                case.name
            );
            assert_eq!(tables.len(), 2, "{}", case.name);
        }
    }
}

#[test]
fn simple_940_is_written_exactly() {
    let input = table(
        &["order_number", "sku", "quantity"],
        &[&["A1", "SKU1", "5"]],
    );
    let written = x12::write_940(&envelope(Separators::default()), &input).expect("writable");
    let expected = "ISA*00*          *00*          *ZZ*TALLYMAN       *ZZ*PARTNER        *260101*0930*U*00401*000000042*0*T*>~\n\
        GS*OW*TALLYMAN*PARTNER*20260101*0930*7*X*004010~\n\
        ST*940*0001~\nW05*N*A1~\nLX*1~\nW01*5*EA**VN*SKU1~\nW76*5~\nSE*6*0001~\n\
        GE*1*7~\nIEA*1*000000042~\n";
    assert_eq!(String::from_utf8_lossy(&written), expected);
}

#[test]
fn w76_totals_the_quantities_exactly() {
    let input = table(
        &["order_number", "sku", "quantity"],
        &[
            &["A", "1", "1.5"],
            &["A", "2", "2"],
            &["A", "3", "0.25"],
            &["B", "4", "-7"],
        ],
    );
    let written = x12::write_940(&envelope(Separators::default()), &input).expect("writable");
    let text = String::from_utf8_lossy(&written);
    assert!(text.contains("W76*3.75~"), "{text}");
    assert!(text.contains("W76*-7~"), "{text}");
    assert!(text.contains("W01*1.5*EA"), "{text}");
}

struct Case846 {
    name: &'static str,
    columns: &'static [&'static str],
    rows: &'static [&'static [&'static str]],
    reports: usize,
}

#[rustfmt::skip]
const CASES_846: &[Case846] = &[
    Case846 {
        name: "two report_ids, two locations, all columns",
        columns: &x12::table::COLUMNS_846_LINES,
        rows: &[
            &["R1", "20260101", "WH", "DC-EAST", "A1", "VN", "012345678905", "33", "100", "EA"],
            &["R1", "20260101", "WH", "DC-EAST", "A1", "VN", "012345678905", "02", "7", "EA"],
            &["R1", "20260101", "WH", "DC-WEST", "A1", "VN", "012345678905", "33", "40", "CA"],
            &["R1", "20260101", "WH", "DC-WEST", "B2", "SK", "", "33", "2.5", "LB"],
            &["R2", "20260102", "ST", "STORE 9", "C3", "UP", "C3", "33", "0", "EA"],
            &["R2", "20260102", "ST", "STORE 9", "D4", "BP", "", "", "1", ""],
        ],
        reports: 2,
    },
    Case846 {
        name: "no report_id column: one set, no locations, defaults",
        columns: &["sku", "quantity", "unit"],
        rows: &[&["A", "1", ""], &["B", "2", NULL], &["A", "3", "CA"]],
        reports: 1,
    },
    Case846 {
        name: "empty report ids, location without qualifier, punctuation",
        columns: &["report_id", "location", "sku", "sku_qualifier", "quantity"],
        rows: &[
            &["", "BAY 4 (NORTH), ROW 2", "P/N 77-A", "", "12.000"],
            &[NULL, "BAY 4 (NORTH), ROW 2", "O'BRIEN #5", "MG", "1"],
        ],
        reports: 1,
    },
];

#[test]
fn written_846_reads_back_to_the_same_tables() {
    for case in CASES_846 {
        for seps in separators() {
            let input = table(case.columns, case.rows);
            let written = x12::write_846(&envelope(seps), &input)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let tables = read_back(&written, "IB", case.reports);
            assert_eq!(tables.len(), 1, "{}", case.name);
            let got = rows_of(&tables, "x12_846_lines", &x12::table::COLUMNS_846_LINES);
            assert_eq!(got, expected_846(&input), "{}", case.name);
        }
    }
}

/// Writes 940 (or 846 when `is_846`) and renders the error.
fn error_of(is_846: bool, columns: &[&str], rows: &[&[&str]]) -> X12Error {
    let env = envelope(Separators::default());
    let input = table(columns, rows);
    let result = match is_846 {
        true => x12::write_846(&env, &input),
        false => x12::write_940(&env, &input),
    };
    match result {
        Ok(bytes) => panic!(
            "expected an error, wrote {}",
            String::from_utf8_lossy(&bytes)
        ),
        Err(e) => e,
    }
}

#[test]
fn unwritable_tables_give_the_exact_error() {
    const OSQ: &[&str] = &["order_number", "sku", "quantity"];
    const OPSQ: &[&str] = &["order_number", "po_number", "sku", "quantity"];
    let cases: Vec<(&str, X12Error, &str)> = vec![
        (
            "missing required column",
            error_of(false, &["order_number", "sku"], &[&["A", "S"]]),
            "cannot write 940: the table has no quantity column",
        ),
        (
            "empty sku at row 3",
            error_of(false, OSQ, &[&["A", "S", "1"], &["A", "T", "1"], &["B", " ", "1"]]),
            "cannot write 940: row 3 has no sku",
        ),
        (
            "inconsistent po_number within an order",
            error_of(false, OPSQ, &[&["A", "P1", "S", "1"], &["B", "P9", "S", "1"], &["A", "P2", "T", "1"]]),
            "cannot write 940 A: row 3 has a different po_number than its first row",
        ),
        (
            "a tilde inside a value",
            error_of(false, OSQ, &[&["A", "S~1", "1"]]),
            "cannot write element value \"S~1\": it contains a separator or a control character",
        ),
        (
            "a quantity that is not a number",
            error_of(false, OSQ, &[&["A", "S", "1"], &["A", "T", "1,5"]]),
            "cannot write 940: row 2 quantity \"1,5\" is not a decimal number",
        ),
        (
            "846 without a sku column",
            error_of(true, &["quantity"], &[&["1"]]),
            "cannot write 846: the table has no sku column",
        ),
        (
            "846 inconsistent report_date",
            error_of(true, &["report_id", "report_date", "sku", "quantity"], &[&["R", "20260101", "S", "1"], &["R", "20260102", "S", "2"]]),
            "cannot write 846 R: row 2 has a different report_date than its first row",
        ),
        (
            "846 row without a location after a located row",
            error_of(true, &["location", "sku", "quantity"], &[&["L1", "S", "1"], &["", "T", "2"]]),
            "cannot write 846: row 2 has no location",
        ),
        (
            "846 upc with a sku qualifier the reader ranks below UP",
            error_of(true, &["sku", "sku_qualifier", "upc", "quantity"], &[&["S", "IN", "012345678905", "1"]]),
            "cannot write LIN02 value \"IN\": with a separate upc, the sku qualifier must be VN, SK or BP to read back",
        ),
    ];
    for (name, error, message) in cases {
        assert_eq!(error.to_string(), message, "{name}");
    }
    // The variants carry their context as fields too.
    let e = error_of(
        false,
        OSQ,
        &[&["A", "S", "1"], &["A", "T", "1"], &["B", "", "1"]],
    );
    assert!(
        matches!(
            e,
            X12Error::MissingValue {
                document: "940",
                column: "sku",
                row: 3
            }
        ),
        "{e:?}"
    );
    let e = error_of(
        false,
        OPSQ,
        &[&["A", "P1", "S", "1"], &["A", "P2", "T", "1"]],
    );
    assert!(
        matches!(&e, X12Error::Inconsistent { document: "940", column: "po_number", key, row: 2 } if key == "A"),
        "{e:?}"
    );
    let e = error_of(false, &["sku", "quantity"], &[&["S", "1"]]);
    assert!(
        matches!(
            e,
            X12Error::MissingColumn {
                document: "940",
                column: "order_number"
            }
        ),
        "{e:?}"
    );
}

#[test]
fn alternative_separators_are_refused_inside_values() {
    let [_, pipes] = separators();
    let input = table(&["order_number", "sku", "quantity"], &[&["A", "S:1", "1"]]);
    assert!(matches!(
        x12::write_940(&envelope(pipes), &input),
        Err(X12Error::Unwritable { .. })
    ));
}
