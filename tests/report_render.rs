//! Pure rendering checks: the HTML's numbers are the report's, and the CSV is injection-safe.

#[path = "support/fixture.rs"]
mod fixture;

use fixture::{dec, sample_report};
use rust_decimal::Decimal;
use tallyman::report::model::ReconStatus;
use tallyman::report::{render, RenderOptions};

/// Numbers parsed back out of the HTML must be the report's own numbers.
#[test]
fn html_numbers_equal_the_run_report() {
    let report = sample_report();
    let html = render(
        &report,
        "{summary}",
        &RenderOptions {
            top_breaks: 2,
            examples_per_rule: 1,
            ..RenderOptions::default()
        },
    )
    .expect("render")
    .html;
    let rec = report.reconciliation.as_ref().expect("recon");

    let counts = regex::Regex::new(r#"data-count="(\w+)">(\d+)<"#).expect("re");
    let parsed: Vec<(ReconStatus, u64)> = counts
        .captures_iter(&html)
        .map(|c| {
            (
                ReconStatus::parse(&c[1]).expect("status"),
                c[2].parse().expect("count"),
            )
        })
        .collect();
    assert_eq!(parsed.len(), ReconStatus::ALL.len());
    for (status, n) in parsed {
        assert_eq!(n, rec.counts.get(status), "{status:?}");
    }

    let money = regex::Regex::new(
        r#"data-currency="(\w+)" data-status="(\w+)" data-field="(\w+)">(-?[\d.]+)<"#,
    )
    .expect("re");
    let mut seen = 0;
    for c in money.captures_iter(&html) {
        let status = ReconStatus::parse(&c[2]).expect("status");
        let total = rec
            .totals
            .iter()
            .find(|t| t.currency == c[1] && t.status == status)
            .expect("total row");
        let want = match &c[3] {
            "count" => Decimal::from(total.count),
            "partner" => total.partner,
            "erp" => total.erp,
            "difference" => total.difference,
            other => panic!("unexpected field {other}"),
        };
        assert_eq!(dec(&c[4]), want, "{} {} {}", &c[1], &c[2], &c[3]);
        seen += 1;
    }
    assert_eq!(seen, rec.totals.len() * 4);

    let total = |what: &str| -> usize {
        let re = regex::Regex::new(&format!(r#"data-total="{what}">(\d+)<"#)).expect("re");
        re.captures(&html)
            .and_then(|c| c[1].parse().ok())
            .expect("total")
    };
    assert_eq!(total("breaks"), report.breaks.len());
    assert_eq!(total("issues"), report.issues.len());
    let rules = regex::Regex::new(r#"data-rule="([\w-]+)">(\d+)<"#).expect("re");
    for c in rules.captures_iter(&html) {
        let n = report.issues.iter().filter(|i| i.rule == c[1]).count();
        assert_eq!(c[2].parse::<usize>().expect("n"), n, "rule {}", &c[1]);
    }
    // Top 2 by absolute difference: SO-4 (5000.00), then the partner-only row (12.50);
    // SO-<script> (11.45) and SO-1 (1.00) are left to the CSV.
    let top = html.find("SO-4").expect("largest break shown");
    let second = html.find("HYPERLINK").expect("second break shown");
    assert!(top < second);
    assert!(
        !html.contains("order_id=SO-1,") && !html.contains("SO-&lt;script"),
        "only the top 2 are shown"
    );
    assert!(
        !html.contains("garbage<b>") && html.contains("garbage&lt;b&gt;"),
        "file names are escaped"
    );
    assert!(
        !html.contains("@SUM(A1)"),
        "only 1 example per rule is shown"
    );
}

/// Formula-looking text from partners is neutralised in the CSV; numeric columns stay numbers.
#[test]
fn csv_attachment_neutralises_injection_and_keeps_numbers() {
    let csv = render(&sample_report(), "{summary}", &RenderOptions::default())
        .expect("render")
        .csv;
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        &header[..3],
        ["order_id", "key_line", "record"],
        "keys come first, renamed on a clash"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4 + 3, "every break and issue");
    let cell = |row: usize, col: &str| -> String {
        let i = header.iter().position(|h| h == col).expect("column");
        rows[row].get(i).unwrap_or("").to_string()
    };
    // (row, column, expected cell)
    let cases: &[(usize, &str, &str)] = &[
        (0, "order_id", "SO-4"),
        (0, "amount_erp", "5000.00"),
        (0, "amount_difference", "-5000.00"),
        (1, "order_id", "'=HYPERLINK(\"http://evil\")"),
        (1, "amount_partner", "-12.50"),
        (1, "amount_difference", "-12.50"),
        (4, "record", "issue"),
        (4, "value", "12,50"),
        (4, "line", "7"),
        (5, "value", "'@SUM(A1)"),
        (6, "rule", "required"),
    ];
    for (row, col, want) in cases {
        assert_eq!(cell(*row, col), *want, "row {row} column {col}");
    }
}

/// A CSV over the mail size limit is cut at a record boundary (a quoted multi-line cell stays
/// whole), the body says how many rows the mail holds, and the archived CSV keeps them all.
#[test]
fn an_attachment_over_the_size_limit_is_cut_and_the_body_says_so() {
    let mut report = sample_report();
    let template = report.issues[0].clone();
    for i in 0..2000 {
        let mut issue = template.clone();
        issue.line = Some(10 + i);
        issue.message = format!("problem {i}\nsecond line of a multi-line message");
        report.issues.push(issue);
    }
    let full = render(&report, "{summary}", &RenderOptions::default()).expect("render");
    assert_eq!(full.attachment, full.csv, "under the limit: the whole CSV");
    assert!(full
        .text
        .contains("Every break and issue is in the attached CSV."));

    let limit = 20_000;
    let cut = render(
        &report,
        "{summary}",
        &RenderOptions {
            max_attachment_bytes: limit,
            ..RenderOptions::default()
        },
    )
    .expect("render");
    assert_eq!(cut.csv, full.csv, "the archived CSV keeps every row");
    assert!(cut.attachment.len() <= limit, "{}", cut.attachment.len());
    let (kept, total) = cut.attachment_rows;
    let records = |b: &[u8]| csv::Reader::from_reader(b).records().count();
    assert_eq!(total, records(&full.csv));
    assert_eq!(kept, records(&cut.attachment));
    assert!(kept > 10 && kept < total, "{kept} of {total}");
    // Every kept record is whole: the same as the full CSV's first records.
    let firsts: Vec<csv::StringRecord> = csv::Reader::from_reader(full.csv.as_slice())
        .records()
        .take(kept)
        .map(|r| r.expect("record"))
        .collect();
    let got: Vec<csv::StringRecord> = csv::Reader::from_reader(cut.attachment.as_slice())
        .records()
        .map(|r| r.expect("record"))
        .collect();
    assert_eq!(got, firsts);
    let note = format!("The attached CSV holds the first {kept} of {total} rows");
    assert!(
        cut.text.contains(&note) && cut.html.contains(&note),
        "{}",
        cut.text
    );
}
