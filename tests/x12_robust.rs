//! Property-style robustness: truncation at every byte, random bytes and separator swaps never
//! panic, and a truncated interchange is never accepted silently.

use std::path::Path;

use tallyman::formats::x12;

/// A tiny xorshift64 generator: deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x12")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs every public entry point over `bytes`; returns the problem count.
fn exercise(bytes: &[u8]) -> usize {
    let parsed = x12::parse(bytes);
    let _ = x12::map_tables(&parsed);
    let _ = x12::to_issues("f.edi", bytes, &parsed.problems);
    let _ = x12::duplicate_interchanges(&parsed, |_, c| c.len() % 2 == 0);
    for ic in &parsed.interchanges {
        for g in &ic.groups {
            let _ = x12::acknowledge(&parsed, ic.index, g.index, x12::AckOptions::default());
        }
    }
    let inspection = x12::inspect(bytes);
    serde_json::to_string(&inspection).expect("inspection serializes");
    parsed.problems.len()
}

const CLEAN: &[&str] = &[
    "ediEngine_850.OK.edi",
    "nodex12_856.edi",
    "stupidedi_004010_SC850_pass_basic-po.edi",
    "ediEngine_MultipleInterchangesAndGroups.edi",
];

#[test]
fn truncation_at_every_byte_is_reported_not_accepted() {
    for name in CLEAN {
        let bytes = fixture(name);
        assert_eq!(exercise(&bytes), 0, "{name} is clean");
        let parsed = x12::parse(&bytes);
        // A cut is complete only between the end of an IEA and the start of the next segment.
        let segs: Vec<_> = parsed.segments().collect();
        let complete = |cut: usize| {
            segs.iter().enumerate().any(|(i, s)| {
                let next = segs.get(i + 1).map_or(bytes.len(), |n| n.offset);
                s.id() == b"IEA" && s.offset + s.raw.len() <= cut && cut <= next
            })
        };
        for cut in 0..bytes.len() {
            let problems = exercise(&bytes[..cut]);
            if !complete(cut) {
                assert!(problems > 0, "{name} cut at {cut} was accepted silently");
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    const ALPHABET: &[u8] = b"ISAGSTEIA*~>:|^!$\n\r \t0123456789PU\xC2\xA0\xEF\xBB\xBF\x7F\x00";
    for _ in 0..3000 {
        let len = rng.below(400);
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        if rng.below(2) == 0 {
            bytes.splice(0..0, b"ISA*".iter().copied());
        }
        if rng.below(4) == 0 {
            bytes.iter_mut().for_each(|b| *b = rng.next() as u8);
        }
        exercise(&bytes);
    }
}

#[test]
fn separator_swaps_and_byte_flips_never_panic() {
    let mut rng = XorShift(42);
    let sources: Vec<Vec<u8>> = [
        "ediNet_x12.850a.edi",
        "nodex12_850_fat.edi",
        "x12types_004010_310.edi",
    ]
    .iter()
    .map(|n| fixture(n))
    .chain(CLEAN.iter().map(|n| fixture(n)))
    .collect();
    const SEPS: &[u8] = b"*~>:|^!$\n\r\x7F{}`@";
    for i in 0..3000 {
        let mut bytes = sources[i % sources.len()].clone();
        match rng.below(4) {
            0 => {
                let (from, to) = (SEPS[rng.below(SEPS.len())], SEPS[rng.below(SEPS.len())]);
                bytes
                    .iter_mut()
                    .filter(|b| **b == from)
                    .for_each(|b| *b = to);
            }
            1 => {
                for at in [3, 103, 104, 105] {
                    if let Some(b) = bytes.get_mut(at) {
                        *b = SEPS[rng.below(SEPS.len())];
                    }
                }
            }
            2 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(bytes.len());
                    if let Some(b) = bytes.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
            }
            _ => {
                let at = rng.below(bytes.len());
                let len = rng.below(40);
                bytes.drain(at..(at + len).min(bytes.len()));
            }
        }
        exercise(&bytes);
    }
}
