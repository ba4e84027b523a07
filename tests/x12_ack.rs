//! 997 acknowledgements: built from envelope problems, written, and read back to the same
//! tables (round trip).

use std::path::Path;

use tallyman::formats::x12::{self, ack::GroupAck, Envelope, Separators};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x12")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

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

fn acks_of(name: &str) -> Vec<GroupAck> {
    let bytes = fixture(name);
    let parsed = x12::parse(&bytes);
    let mut acks = Vec::new();
    for ic in &parsed.interchanges {
        for g in &ic.groups {
            acks.extend(x12::acknowledge(
                &parsed,
                ic.index,
                g.index,
                Default::default(),
            ));
        }
    }
    acks
}

/// What the 997 tables must hold for `acks`: (group rows, set rows) of the meaningful columns.
type Expected = (Vec<Vec<Option<String>>>, Vec<Vec<Option<String>>>);

fn expected(acks: &[GroupAck]) -> Expected {
    let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let join = |v: &[&str]| (!v.is_empty()).then(|| v.join(" "));
    let groups = acks
        .iter()
        .map(|a| {
            vec![
                s(&a.functional_id),
                s(&a.control),
                s(a.status.code()),
                s(&a.declared.to_string()),
                s(&a.received.to_string()),
                s(&a.accepted.to_string()),
                join(&a.errors),
            ]
        })
        .collect();
    let sets = acks
        .iter()
        .flat_map(|a| {
            a.sets.iter().map(move |t| {
                let notes: Vec<String> = t
                    .notes
                    .iter()
                    .map(|n| format!("{}@{}:{}", n.segment_id, n.position, n.code))
                    .collect();
                vec![
                    s(&a.control),
                    s(&t.set_id),
                    s(&t.control),
                    s(t.status.code()),
                    join(&t.errors),
                    (!notes.is_empty()).then(|| notes.join(";")),
                ]
            })
        })
        .collect();
    (groups, sets)
}

fn rows(t: &x12::Table) -> Vec<Vec<Option<String>>> {
    (0..t.rows())
        .map(|r| {
            t.columns
                .iter()
                .skip(3)
                .map(|c| c.get(r).map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn written_997_reads_back_to_the_same_tables() {
    let alt = Separators {
        element: b'|',
        component: Some(b':'),
        repetition: None,
        segment: b'\n',
    };
    let cases = [
        ("ediEngine_AckTest.edi", Separators::default(), "A"),
        (
            "ediEngine_ControlNumbersMismatch.edi",
            Separators::default(),
            "R",
        ),
        ("ediEngine_940_Failed_SE01.edi", alt, "R"),
        ("ediEngine_MultipleInterchangesAndGroups.edi", alt, "A"),
        (
            "x12types_inline/test_945_parse_1_L384.edi",
            Separators::default(),
            "R",
        ),
    ];
    for (name, seps, first_status) in cases {
        let acks = acks_of(name);
        assert_eq!(acks[0].status.code(), first_status, "{name}");
        let written = x12::write_997(&envelope(seps), &acks).expect("writable");
        let back = x12::parse(&written);
        assert!(
            back.problems.is_empty(),
            "{name}: our own 997 has problems {:?}",
            back.problems
        );
        let tables = x12::map_tables(&back);
        let (groups, sets) = expected(&acks);
        assert_eq!(rows(&tables[0]), groups, "{name} groups");
        assert_eq!(rows(&tables[1]), sets, "{name} sets");
        assert_eq!(back.interchanges[0].control, "000000042");
        assert_eq!(back.interchanges[0].separators, seps);
    }
}

#[test]
fn acknowledgement_names_the_errors() {
    let acks = acks_of("ediEngine_ControlNumbersMismatch.edi");
    assert_eq!(
        acks[0].sets[0].errors,
        vec!["3"],
        "AK502 3: ST02/SE02 differ"
    );
    assert_eq!(acks[0].errors, vec!["4"], "AK905 4: GS06/GE02 differ");
    assert_eq!(
        (acks[0].declared, acks[0].received, acks[0].accepted),
        (1, 1, 0)
    );
    let acks = acks_of("ediEngine_WrongGroupsAndTranCount.edi");
    assert_eq!(acks[0].errors, vec!["5"], "AK905 5: GE01 count");
    assert_eq!(
        acks[0].status.code(),
        "R",
        "a group whose count is wrong is not taken, whatever its sets hold"
    );
    assert!(acks[0].sets.iter().all(|s| s.status.code() == "R"));
    assert_eq!(acks[0].accepted, 0);
    let acks = acks_of("ediEngine_AckTest.edi");
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].sets.len(), 2);
}

#[test]
fn values_that_would_break_framing_are_refused() {
    let mut env = envelope(Separators::default());
    env.sender = "A*B".into();
    let acks = acks_of("ediEngine_AckTest.edi");
    assert!(x12::write_997(&env, &acks).is_err());
    let mut env = envelope(Separators::default());
    env.receiver = "SIXTEEN-CHARS-ID".into();
    assert!(x12::write_997(&env, &acks).is_err());
}
