//! Prints the expectation rows of tests/edifact_samples.rs (reviewed by hand before use): `cargo run --example edifact_expect tests/fixtures/edifact/*` (V=1 adds messages).
fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let p = tallyman::formats::edifact::parse(&bytes);
        let groups: usize = p.interchanges.iter().map(|i| i.groups.len()).sum();
        let rows: Vec<String> = p
            .problems
            .iter()
            .map(|pr| {
                format!(
                    "({:?}, {}, {}, '{}')",
                    pr.code.label(),
                    pr.at.segment,
                    pr.at.offset,
                    if pr.severity == tallyman::issue::Severity::Warning {
                        "W"
                    } else {
                        "E"
                    }
                )
            })
            .collect();
        println!(
            "    ({:?}, {}, {}, {}, &[{}]),",
            path.rsplit('/').next().unwrap_or(""),
            p.interchanges.len(),
            groups,
            p.messages().count(),
            rows.join(", ")
        );
        if std::env::var("V").is_ok() {
            for pr in &p.problems {
                println!("        // {}", pr.message);
            }
        }
    }
}
