//! Hostile and broken XML: DOCTYPEs are never fetched, entities never expanded, limits hold,
//! malformed input is located exactly, and nothing panics on any input.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use tallyman::formats::xml::{self, problem as pb, Parsed, XmlLimits};

fn codes(p: &Parsed) -> Vec<&'static str> {
    p.problems.iter().map(|p| p.code).collect()
}

/// (code, offset, line, column) of the first problem.
fn first(p: &Parsed) -> (&'static str, usize, u64, u64) {
    let f = p.problems.first().expect("a problem");
    (f.code, f.at.offset, f.at.line, f.at.column)
}

const ORDER: &str = r#"<cXML payloadID="p1"><Request><OrderRequest><OrderRequestHeader orderID="PO-9"/><ItemOut quantity="2" lineNumber="1"><ItemID><SupplierPartID>S-1</SupplierPartID></ItemID></ItemOut></OrderRequest></Request></cXML>"#;

#[test]
fn external_doctype_is_recorded_but_never_fetched() {
    // A live listener as the DTD's host: any fetch attempt would show up as a connection.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/cXML.dtd", listener.local_addr().expect("addr"));
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE cXML SYSTEM \"{url}\">\n{ORDER}"
    );
    let p = xml::parse(doc.as_bytes());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert!(p.complete);
    let t = xml::map_tables(&p);
    assert_eq!(t[1].get(0, "sku"), Some("S-1"));
    let ins = xml::inspect(doc.as_bytes());
    let dt = ins.doctype.expect("doctype");
    assert_eq!(dt.system_id.as_deref(), Some(url.as_str()));
    assert!(!dt.expanded && !dt.internal_subset);
    let json = serde_json::to_value(xml::inspect(doc.as_bytes())).expect("json");
    assert_eq!(json["doctype"]["system_id"], url.as_str());
    assert_eq!(json["doctype"]["expanded"], false);
    // No wait needed: a connect() by the parser would have completed in the kernel (the
    // listener's backlog) before the parser returned, so it would be there to accept now.
    assert!(
        listener.accept().is_err(),
        "the parser connected to the DTD host"
    );
}

#[test]
fn declared_entities_are_refused_and_never_expanded() {
    let cases = [
        r#"<!DOCTYPE x [ <!ENTITY a "EXPANDED"> ]><x>&a;</x>"#,
        r#"<?xml version="1.0"?><!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><foo>&xxe;</foo>"#,
        r#"<!DOCTYPE foo [ <!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p; ]><foo/>"#,
    ];
    for doc in cases {
        let p = xml::parse(doc.as_bytes());
        assert_eq!(codes(&p), [pb::ENTITY_DECLARED], "{doc}");
        assert!(!p.complete && p.doc.nodes.is_empty(), "{doc}");
        assert!(xml::map_tables(&p).is_empty());
        let text = format!("{:?}", p.doc);
        assert!(
            !text.contains("EXPANDED") && !text.contains("root:"),
            "{doc}"
        );
        assert!(p
            .doctype
            .as_ref()
            .is_some_and(|d| d.declares_entities && !d.expanded));
    }
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>");
    let start = Instant::now();
    let p = xml::parse(doc.as_bytes());
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(first(&p), (pb::ENTITY_DECLARED, 22, 2, 1));
    assert_eq!(p.problems.len(), 1);
}

#[test]
fn undeclared_entities_are_problems_not_expansions() {
    let doc = r#"<cXML payloadID="a&bar;b"><x>1&foo;2 &amp; &#65;&#x42;&lt;</x></cXML>"#;
    let p = xml::parse(doc.as_bytes());
    let got: Vec<_> = p
        .problems
        .iter()
        .map(|p| (p.code, p.at.offset, p.value.clone()))
        .collect();
    assert_eq!(
        got[..2],
        [
            (pb::ENTITY_UNDECLARED, 0, Some("a&bar;b".to_string())),
            (pb::ENTITY_UNDECLARED, 30, Some("&foo;".to_string())),
        ]
    );
    assert_eq!(p.problems[1].path.as_deref(), Some("/cXML/x"));
    // Predefined and numeric references are resolved; the unknown one is dropped.
    assert_eq!(p.doc.text(1).as_deref(), Some("12 & AB<"));
    assert_eq!(p.doc.attr(0, "payloadID").as_deref(), Some("a&bar;b"));
}

#[test]
fn problem_floods_are_capped_and_stay_linear() {
    let doc = format!("<r>{}</r>", "<x>&a;</x>".repeat(100_000));
    let start = Instant::now();
    let p = xml::parse(doc.as_bytes());
    assert!(start.elapsed() < Duration::from_secs(10));
    // 200 listed, the summary, then the kind problem (a root `r` is no known document).
    assert_eq!(p.problems.len(), pb::MAX_PROBLEMS + 2);
    assert_eq!(p.problems[pb::MAX_PROBLEMS + 1].code, pb::UNKNOWN_DOCUMENT);
    let last = &p.problems[pb::MAX_PROBLEMS];
    assert_eq!(
        (last.code, last.message.as_str()),
        (pb::TOO_MANY_PROBLEMS, "99800 more problems not listed")
    );
    assert_eq!(p.problems[1].path.as_deref(), Some("/r/x[2]"));
    let lines = format!(
        "<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\" xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\">{}</Order>",
        "<cac:OrderLine/>".repeat(50_000)
    );
    let start = Instant::now();
    let p = xml::parse(lines.as_bytes());
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(p.problems.len() <= 2 * pb::MAX_PROBLEMS + 1);
}

#[test]
fn depth_limit() {
    let nest = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    let ok = xml::parse(nest(64).as_bytes());
    assert!(ok.complete && !codes(&ok).contains(&pb::TOO_DEEP));
    let deep = xml::parse(nest(65).as_bytes());
    assert_eq!(first(&deep), (pb::TOO_DEEP, 64 * 3, 1, 64 * 3 + 1));
    assert!(!deep.complete);
    let limits = XmlLimits {
        max_depth: 3,
        ..XmlLimits::default()
    };
    let p = xml::parse_with(nest(4).as_bytes(), &limits);
    assert_eq!(first(&p).0, pb::TOO_DEEP);
    assert_eq!(p.problems[0].path.as_deref(), Some("/a/a/a"));
    // A raised limit is capped (quick-xml counts nesting in a u16), and the tree is never
    // walked recursively, so even 70 000 levels neither panic nor overflow the stack.
    let limits = XmlLimits {
        max_depth: usize::MAX,
        ..XmlLimits::default()
    };
    let p = xml::parse_with(nest(70_000).as_bytes(), &limits);
    assert_eq!(first(&p).0, pb::TOO_DEEP);
    assert_eq!(p.doc.nodes.len(), xml::reader::MAX_SUPPORTED_DEPTH);
    let p = xml::parse_with(nest(xml::reader::MAX_SUPPORTED_DEPTH).as_bytes(), &limits);
    assert!(p.complete);
    assert_eq!(
        xml::inspect(nest(70_000).as_bytes()).problems[0].code,
        pb::TOO_DEEP
    );
}

#[test]
fn size_and_element_limits() {
    let limits = XmlLimits {
        max_bytes: 100,
        ..XmlLimits::default()
    };
    let doc = format!("<a>{}</a>", "x".repeat(94));
    assert_eq!(doc.len(), 101);
    let p = xml::parse_with(doc.as_bytes(), &limits);
    assert_eq!(codes(&p), [pb::TOO_LARGE]);
    assert_eq!(p.problems[0].at.offset, 100);
    let issues = xml::to_issues("big.xml", &p.problems);
    assert_eq!(
        (issues[0].rule.as_str(), issues[0].line),
        (pb::TOO_LARGE, None)
    );
    assert!(p.doc.nodes.is_empty());
    let fits = xml::parse_with(&doc.as_bytes()[1..], &limits);
    assert!(!codes(&fits).contains(&pb::TOO_LARGE));
    assert_eq!(XmlLimits::default().max_bytes, 64 << 20);
    assert_eq!(XmlLimits::default().max_depth, 64);

    let limits = XmlLimits {
        max_elements: 10,
        ..XmlLimits::default()
    };
    let many = format!("<r>{}</r>", "<i/>".repeat(10));
    let p = xml::parse_with(many.as_bytes(), &limits);
    assert_eq!(first(&p), (pb::TOO_LARGE, 3 + 9 * 4, 1, 3 + 9 * 4 + 1));
    assert_eq!(p.doc.nodes.len(), 10);
}

#[test]
fn malformed_documents_are_located_exactly() {
    // (document, offset, line, column)
    let cases: &[(&str, usize, u64, u64)] = &[
        ("<a>\n  <b></c>\n</a>", 9, 2, 6), // mismatched end tag, at `</c>`
        ("<a>\r\n<b>\r\n", 10, 3, 1),      // unclosed at end of input (CRLF lines)
        ("garbage", 0, 1, 1),              // not XML at all
        ("  \n  junk<a/>", 5, 2, 3),       // text before the root
        ("<a/>\n<b/>", 5, 2, 1),           // second root
        ("<a/>\ntail", 5, 2, 1),           // text after the root
        ("<a>x & y</a>", 5, 1, 6),         // bare ampersand
        ("<a b='1' b='2'/>", 9, 1, 10),    // duplicate attribute
        ("<a x=1/>", 5, 1, 6),             // unquoted attribute
        ("</a>", 0, 1, 1),                 // end tag with nothing open
        ("<p:a/>", 0, 1, 1),               // undeclared prefix
        ("<a>é\n é<b></a>", 12, 2, 6),     // columns count characters, not bytes
        ("", 0, 1, 1),                     // empty file
    ];
    for (doc, off, line, col) in cases {
        let p = xml::parse(doc.as_bytes());
        assert_eq!(
            first(&p),
            (pb::MALFORMED, *off, *line, *col),
            "{doc:?}: {:?}",
            p.problems
        );
        assert!(!p.complete, "{doc:?}");
        assert!(xml::map_tables(&p).is_empty());
    }
}

#[test]
fn encodings_are_honoured_and_reported() {
    // UTF-16LE with BOM: text decodes, offsets are bytes of the UTF-16 file.
    let doc = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é</b>";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(doc.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let p = xml::parse(&bytes);
    let enc = p.encoding.clone().expect("encoding");
    assert_eq!(
        (enc.used, enc.declared.as_deref(), enc.bom),
        ("UTF-16LE", Some("UTF-16"), true)
    );
    let at = doc[..doc.find("</b>").expect("end tag")].chars().count();
    assert_eq!(first(&p), (pb::MALFORMED, 2 + 2 * at, 1, at as u64 + 1));
    // UTF-16BE, well-formed.
    let mut be = vec![0xFE, 0xFF];
    be.extend(ORDER.encode_utf16().flat_map(|u| u.to_be_bytes()));
    let p = xml::parse(&be);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(xml::map_tables(&p)[0].get(0, "po_number"), Some("PO-9"));

    // ISO-8859-1: one byte per character, decoded via encoding_rs (windows-1252 superset).
    let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xE9</a><";
    let p = xml::parse(latin);
    let enc = p.encoding.clone().expect("encoding");
    assert_eq!(
        (enc.used, enc.declared.as_deref()),
        ("windows-1252", Some("ISO-8859-1"))
    );
    assert_eq!(p.doc.text(0).as_deref(), Some("café"));
    assert_eq!(first(&p).1, latin.len() - 1);

    // UTF-8 BOM counts in offsets.
    let p = xml::parse(b"\xEF\xBB\xBF<a></b>");
    assert!(p
        .encoding
        .as_ref()
        .is_some_and(|e| e.bom && e.used == "UTF-8"));
    assert_eq!(first(&p), (pb::MALFORMED, 6, 1, 4));

    // Invalid UTF-8 and unsupported encodings are problems at the first bad byte.
    let p = xml::parse(b"<a>ok\n  \xFF</a>");
    assert_eq!(first(&p), (pb::ENCODING, 8, 2, 3));
    assert_eq!(p.problems[0].value.as_deref(), Some("0xFF"));
    let p = xml::parse(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a/>");
    assert_eq!(first(&p).0, pb::ENCODING);
    let p = xml::parse(b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>");
    assert_eq!(first(&p).0, pb::ENCODING);
}

#[test]
fn problems_become_issues() {
    let p = xml::parse(b"<cXML payloadID=\"x\"><Request><OrderRequest><OrderRequestHeader/></OrderRequest></Request></cXML>");
    let issues = xml::to_issues("po.xml", &p.problems);
    assert_eq!(issues.len(), 1);
    let i = &issues[0];
    assert_eq!(i.rule, pb::MISSING_ELEMENT);
    assert_eq!(
        i.column.as_deref(),
        Some("/cXML/Request/OrderRequest/OrderRequestHeader/@orderID")
    );
    assert_eq!(i.line, Some(1));
    assert_eq!(i.file, "po.xml");
    assert!(i.message.contains("byte 43"), "{}", i.message);
    let paths = xml::parse(b"<cXML payloadID=\"x\"><Request><OrderRequest><OrderRequestHeader orderID=\"1\"/><ItemOut/><ItemOut><ItemID><SupplierPartID>&x;</SupplierPartID></ItemID></ItemOut></OrderRequest></Request></cXML>");
    assert_eq!(
        paths.problems[0].path.as_deref(),
        Some("/cXML/Request/OrderRequest/ItemOut[2]/ItemID/SupplierPartID")
    );
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every problem lies within the input and the result serializes.
fn check(bytes: &[u8]) -> Parsed {
    let p = xml::parse(bytes);
    for pr in &p.problems {
        assert!(
            pr.at.offset <= bytes.len(),
            "offset {} past {}",
            pr.at.offset,
            bytes.len()
        );
    }
    let _ = xml::map_tables(&p);
    let _ = xml::to_issues("f", &p.problems);
    serde_json::to_string(&xml::inspect(bytes)).expect("json");
    p
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xml");
    let mut out = Vec::new();
    for sub in ["ubl", "cxml"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("dir") {
            out.push(std::fs::read(e.expect("entry").path()).expect("read"));
        }
    }
    out
}

/// Parses the prefixes of `bytes` at `cuts`: none may panic, and every prefix that ends
/// before the root's end tag is incomplete with a malformed (or encoding) problem first.
fn truncations(bytes: &[u8], cuts: impl Iterator<Item = usize>) {
    let end = bytes.iter().rposition(|b| *b == b'>').expect("a tag") + 1;
    for cut in cuts {
        let p = xml::parse(&bytes[..cut]);
        assert!(p.problems.iter().all(|pr| pr.at.offset <= cut), "{cut}");
        if cut < end {
            assert!(!p.complete, "prefix of {cut} bytes read as complete");
            let f = p.problems.first().expect("a problem");
            assert!(
                matches!(f.code, pb::MALFORMED | pb::ENCODING),
                "{cut}: {f:?}"
            );
            assert!(xml::map_tables(&p).is_empty());
        }
    }
}

/// Every truncation of files up to 4 KiB; for larger ones (a debug build reads about
/// 10 MB/s, and all cuts of all files would be ~1 GB of parsing) the first KiB, the last
/// 256 bytes and every 97th byte between. `every_truncation_full` covers all cuts.
#[test]
fn truncations_of_every_fixture_are_reported_not_panicked() {
    for bytes in fixtures() {
        let n = bytes.len();
        if n <= 4096 {
            truncations(&bytes, 0..n);
        } else {
            let cuts = (0..1024)
                .chain((1024..n - 256).step_by(97))
                .chain(n - 256..n);
            truncations(&bytes, cuts);
        }
    }
}

/// All cuts of all fixtures (minutes in a debug build): `cargo test -- --ignored`.
#[test]
#[ignore]
fn every_truncation_full() {
    for bytes in fixtures() {
        truncations(&bytes, 0..bytes.len());
    }
}

#[test]
fn random_bytes_and_byte_flips_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    const ALPHABET: &[u8] = b"<>/=\"'&;#x!?[]-: \n\raAbZ0\xC3\xA9\xFF\x00";
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(2) == 0 {
                    ALPHABET[rng.below(ALPHABET.len())]
                } else {
                    rng.next() as u8
                }
            })
            .collect();
        check(&bytes);
    }
    for bytes in fixtures() {
        for _ in 0..100 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                b[i] = if rng.below(2) == 0 {
                    ALPHABET[rng.below(ALPHABET.len())]
                } else {
                    rng.next() as u8
                };
            }
            check(&b);
        }
    }
}
