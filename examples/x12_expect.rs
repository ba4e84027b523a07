//! Prints the data-driven expectation rows of tests/x12_samples.rs (reviewed by hand before use).
fn main() {
    let root = std::path::Path::new("tests/fixtures/x12");
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .chain(std::fs::read_dir(root.join("x12types_inline")).unwrap())
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "edi" || x == "xml"))
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let p = tallyman::formats::x12::parse(&bytes);
        let groups: usize = p.interchanges.iter().map(|i| i.groups.len()).sum();
        let probs: Vec<String> = p
            .problems
            .iter()
            .map(|pr| {
                format!(
                    "({:?}, {}, {}, {})",
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
            f.strip_prefix(root).unwrap().display(),
            p.interchanges.len(),
            groups,
            p.sets().count(),
            probs.join(", ")
        );
    }
}
