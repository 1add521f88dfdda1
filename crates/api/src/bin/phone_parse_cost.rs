//! Prints what one phone number parse costs: every number of the oracle table
//! (`tests/data/phone_oracle.tsv`: every region, every type, neighbours, truncations)
//! through `PhoneNumber::parse`, the parser behind the lookup and registration, on one
//! thread and then on every core at once (the lookup runs on every worker), after the
//! server's start-up warm-up and a first pass that compiles every region's patterns; and
//! the resident memory each step takes. Run it in release: `cargo run --release -p phonereg-api --bin
//! phone-parse-cost [seconds]`.

use std::{
    hint::black_box,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use phonereg_api::domain::{PhoneNumber, phone_number};

const TABLE: &str = include_str!("../../tests/data/phone_oracle.tsv");

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    // (input, region hint) per case; the header and comment lines are skipped.
    let cases: Vec<(&str, &str)> = TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("case\t"))
        .filter_map(|l| {
            let mut f = l.split('\t');
            let region = f.nth(1)?;
            Some((f.next()?, region))
        })
        .collect();
    let rss_before = rss_mib();
    phone_number::warm_up("US");
    println!(
        "resident memory: {rss_before:.1} MiB before, {:.1} MiB after the server's start-up warm-up (metadata, US patterns)",
        rss_mib()
    );
    let parse_all = || {
        for (raw, region) in &cases {
            let _ = black_box(PhoneNumber::parse(black_box(raw), region));
        }
    };
    let start = Instant::now();
    parse_all();
    println!(
        "first pass: {:.1} µs per number over {} numbers; resident memory then {:.1} MiB",
        start.elapsed().as_secs_f64() * 1e6 / cases.len() as f64,
        cases.len(),
        rss_mib()
    );

    for threads in [
        1,
        std::thread::available_parallelism().map_or(2, usize::from),
    ] {
        let done = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        parse_all();
                        done.fetch_add(cases.len() as u64, Ordering::Relaxed);
                    }
                });
            }
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
        let elapsed = start.elapsed().as_secs_f64();
        let parsed = done.load(Ordering::Relaxed) as f64;
        println!(
            "{threads} thread(s): {:.2} µs per number per thread, {:.0} numbers/s in all",
            elapsed * 1e6 * threads as f64 / parsed,
            parsed / elapsed
        );
    }
}

/// This process's resident memory (VmRSS, Linux), in MiB; 0 where /proc is absent.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
