//! One real interchange rewritten with every framing the partners use (element, component and
//! segment separators, missing ISA16, unpadded ISA, line endings, indentation, BOM, several
//! interchanges with different separators, TA1 before GS): all read to the same tables with
//! no envelope problems.

use std::path::Path;

use tallyman::formats::x12;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x12")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The segments of `bytes` (one interchange, `*` and `>`), re-framed.
fn reframe(bytes: &[u8], element: u8, component: Option<u8>, unpad: bool) -> Vec<Vec<u8>> {
    let parsed = x12::parse(bytes);
    parsed
        .segments()
        .map(|s| {
            let mut raw: Vec<u8> = s.raw.to_vec();
            if s.id() == b"ISA" {
                if unpad {
                    let fields: Vec<Vec<u8>> = raw
                        .split(|b| *b == b'*')
                        .map(|f| {
                            let t = f.trim_ascii();
                            if t.is_empty() {
                                b" ".to_vec()
                            } else {
                                t.to_vec()
                            }
                        })
                        .collect();
                    raw = fields.join(&b'*');
                }
                match component {
                    Some(c) => *raw.last_mut().expect("ISA16") = c,
                    None => {
                        raw.pop();
                    }
                }
            }
            raw.iter_mut()
                .filter(|b| **b == b'*')
                .for_each(|b| *b = element);
            raw
        })
        .collect()
}

fn join(segments: &[Vec<u8>], terminator: u8, gap: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segments {
        out.extend_from_slice(s);
        out.push(terminator);
        out.extend_from_slice(gap);
    }
    out
}

#[test]
fn every_framing_reads_to_the_same_tables() {
    let original = fixture("ediEngine_850.OK.edi");
    let reference = x12::map_tables(&x12::parse(&original));
    assert_eq!(reference[1].rows(), 6);
    // (element, component, terminator, gap after terminator, unpadded ISA, BOM)
    type Case = (u8, Option<u8>, u8, &'static [u8], bool, bool);
    let cases: &[Case] = &[
        (b'*', Some(b'>'), b'~', b"", false, false),
        (b'*', Some(b'>'), b'~', b"\r\n", false, true),
        (b'*', Some(b':'), b'\n', b"", false, false),
        (b'*', Some(b'^'), b'\r', b"", false, false),
        (b'*', Some(b'@'), b'\r', b"\n", true, false),
        (b'|', Some(b'{'), b'!', b"\n", false, false),
        (b'|', Some(b'}'), b'$', b"\r\n", true, false),
        (0x7F, Some(b'`'), b'~', b"\n\t\t", false, false),
        (b'*', None, b'~', b"\n", false, false),
        (b'*', None, b'~', b"", true, false),
        (b'~', Some(b'>'), b'\n', b"", false, false),
        (b'*', Some(b'>'), b'~', b"\n    ", true, true),
    ];
    for (i, (element, component, terminator, gap, unpad, bom)) in cases.iter().enumerate() {
        let segments = reframe(&original, *element, *component, *unpad);
        let mut bytes = if *bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        bytes.extend(join(&segments, *terminator, gap));
        let parsed = x12::parse(&bytes);
        let errors: Vec<_> = parsed
            .problems
            .iter()
            .filter(|p| p.severity == tallyman::issue::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "case {i}: {errors:?}");
        let s = parsed.interchanges[0].separators;
        assert_eq!(
            (s.element, s.component, s.segment),
            (*element, *component, *terminator),
            "case {i}"
        );
        assert_eq!(x12::map_tables(&parsed), reference, "case {i}");
    }
}

#[test]
fn several_interchanges_each_with_its_own_separators() {
    let a = fixture("ediEngine_850.OK.edi");
    let b = fixture("stupidedi_002001_SH856_fail_1.edi");
    let c = fixture("stupidedi_004010_SH856_fail_2.edi");
    let bytes = [a.as_slice(), b"\n", b.as_slice(), c.as_slice()].concat();
    let parsed = x12::parse(&bytes);
    let seps: Vec<(u8, u8)> = parsed
        .interchanges
        .iter()
        .map(|i| (i.separators.segment, i.separators.component.unwrap_or(0)))
        .collect();
    assert_eq!(seps, vec![(b'\n', b'>'), (b'!', b'@'), (b'$', b'{')]);
    let sets: Vec<&str> = parsed.sets().map(|(_, _, s)| s.id.as_str()).collect();
    assert_eq!(
        sets,
        vec!["850", "856", "856", "856"],
        "the 002001 sample holds two sets"
    );
}

#[test]
fn ta1_before_gs_is_counted_and_after_gs_is_reported() {
    let isa = "ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*^*00501*000000007*0*P*:~";
    let ok = format!("{isa}TA1*000000006*240101*1200*A*000~GS*FA*A*B*20240101*1200*1*X*005010~ST*997*0001~AK1*PO*5~AK9*A*1*1*1~SE*4*0001~GE*1*1~IEA*1*000000007~");
    let parsed = x12::parse(ok.as_bytes());
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.interchanges[0].ta1_count, 1);
    assert_eq!(
        parsed.interchanges[0].separators.repetition,
        Some(b'^'),
        "ISA11 from 00402 on"
    );
    let late = ok.replace(
        "GS*FA*A*B*20240101*1200*1*X*005010~",
        "GS*FA*A*B*20240101*1200*1*X*005010~TA1*000000006*240101*1200*A*000~",
    );
    let parsed = x12::parse(late.as_bytes());
    let codes: Vec<String> = parsed.problems.iter().map(|p| p.code.label()).collect();
    assert_eq!(codes, vec!["TA105:024"]);
    assert_eq!(
        parsed.problems[0].at.segment, 4,
        "ISA, TA1, GS, then the late TA1"
    );
}
