//! Throughput of X12 parsing: builds a multi-MB interchange by repeating real transaction sets
//! (850, 856, 940, 945 from the fixtures) with correct envelope counts, then measures
//! parse + envelope check and parse + mapping in MB/s on one core.
//! Run: `cargo run --release --example x12_bench [MB] [parse|map]` (bench/x12_vs_node.sh compares
//! it with node-x12 on the same file).

// The binary's allocator, so the figures are what `tallyman` itself does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use tallyman::formats::x12;

/// The ST..SE segments of the first set of a fixture, re-terminated with `~\n`.
fn set_of(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/tests/fixtures/x12/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("fixture");
    let parsed = x12::parse(&bytes);
    let (_, _, set) = parsed.sets().next().expect("a set");
    parsed.set_segments(set).map(|s| s.raw.to_vec()).collect()
}

fn build(target: usize) -> Vec<u8> {
    let sets: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("PO", set_of("ediEngine_850.OK.edi")),
        ("SH", set_of("nodex12_856.edi")),
        ("OW", set_of("ediEngine_940.OK.edi")),
        ("SW", set_of("x12types_inline/test_945_parse_1_L384.edi")),
    ];
    let mut out = Vec::with_capacity(target + 4096);
    let mut ic = 0u32;
    while out.len() < target {
        ic += 1;
        out.extend_from_slice(format!("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*U*00401*{ic:09}*0*P*>~\n").as_bytes());
        for (g, (fid, segs)) in sets.iter().enumerate() {
            let gctl = ic * 10 + g as u32;
            out.extend_from_slice(
                format!("GS*{fid}*S*R*20260101*1200*{gctl}*X*004010~\n").as_bytes(),
            );
            let n_sets = 50;
            for k in 0..n_sets {
                let ctl = format!("{:04}", k + 1);
                let body = &segs[1..segs.len() - 1];
                out.extend_from_slice(
                    format!("ST*{}*{ctl}~\n", String::from_utf8_lossy(&segs[0][3..6])).as_bytes(),
                );
                for s in body {
                    out.extend_from_slice(s);
                    out.extend_from_slice(b"~\n");
                }
                out.extend_from_slice(format!("SE*{}*{ctl}~\n", body.len() + 2).as_bytes());
            }
            out.extend_from_slice(format!("GE*{n_sets}*{gctl}~\n").as_bytes());
        }
        out.extend_from_slice(format!("IEA*{}*{ic:09}~\n", sets.len()).as_bytes());
    }
    out
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`); the machine may be shared,
/// so throughput is reported against CPU time as well as wall time.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The median of measured values (the upper one of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `f` `runs` times and prints MB/s from the median wall and CPU times; the last line,
/// `RESULT key=MB/s`, is what bench/x12_vs_node.sh reads.
fn measure(label: &str, key: &str, bytes: &[u8], runs: usize, f: impl Fn(&[u8]) -> usize) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut check = 0;
    for _ in 0..runs.max(1) {
        let (t, c) = (Instant::now(), cpu_ns());
        check = f(bytes);
        wall.push(t.elapsed().as_secs_f64());
        if let (Some(c0), Some(c1)) = (c, cpu_ns()) {
            cpu.push((c1 - c0) as f64 / 1e9);
        }
    }
    let mb = bytes.len() as f64 / 1e6;
    let (wall, cpu) = (median(wall), median(cpu));
    println!(
        "{label}: {:.0} MB/s wall, {:.0} MB/s CPU ({mb:.1} MB, median of {runs}: {:.1} ms wall, {:.1} ms CPU; {check})",
        mb / wall,
        mb / cpu,
        wall * 1e3,
        cpu * 1e3
    );
    println!("RESULT {key}={:.1} {key}_cpu={:.1}", mb / wall, mb / cpu);
}

/// `x12_bench [MB] [parse|map]`; `X12_BENCH_RUNS` sets the number of runs (default 5) and
/// `X12_BENCH_WRITE=path` also writes the built input there, so other parsers can read the
/// very same bytes.
fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let runs: usize = std::env::var("X12_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let bytes = build(mb * 1_000_000);
    if let Ok(path) = std::env::var("X12_BENCH_WRITE") {
        std::fs::write(&path, &bytes).expect("write the bench input");
        println!("wrote {path}");
    }
    let parsed = x12::parse(&bytes);
    assert!(
        parsed.problems.is_empty(),
        "bench input must be clean: {:?}",
        parsed.problems.first()
    );
    println!(
        "input: {} bytes, {} segments, {} sets",
        bytes.len(),
        parsed.segment_count,
        parsed.sets().count()
    );
    drop(parsed);
    let only = std::env::args().nth(2).unwrap_or_default();
    if only != "map" {
        measure("parse + envelope check", "parse", &bytes, runs, |b| {
            let p = x12::parse(b);
            p.segment_count as usize + p.problems.len()
        });
    }
    if only == "parse" {
        return;
    }
    measure(
        "parse + envelope check + mapping",
        "map",
        &bytes,
        runs,
        |b| {
            let p = x12::parse(b);
            x12::map_tables(&p).iter().map(|t| t.rows()).sum()
        },
    );
}
