//! Parse-only throughput: every line of a log file through the parser stages installed in a
//! config directory (`<config>/parsers/<stage>/*.yaml`), on 1..N threads sharing one compiled
//! [`Parsers`] (each takes batches of lines from one reader), with the event built per line as
//! the replay builds it. Prints one JSON object per run (lines, parsed, wall and CPU seconds,
//! lines/s, peak RSS so far).
//!
//! ```text
//! parse_bench --config ETC --patterns DIR --data DIR --type syslog [--threads 1,2] [--repeat N] FILE
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use cs_parser::{LoaderBuilder, Parsers};
use cs_types::Event;

struct Args {
    config: PathBuf,
    patterns: PathBuf,
    data: PathBuf,
    log_type: String,
    threads: Vec<usize>,
    repeat: usize,
    file: PathBuf,
}

const USAGE: &str = "usage: parse_bench --config ETC --patterns DIR --data DIR --type TYPE \
                     [--threads 1,2] [--repeat N] FILE";

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut config, mut patterns, mut data, mut log_type, mut file) =
        (None, None, None, None, None);
    let mut threads = vec![1];
    let mut repeat = 1;
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--patterns" => patterns = Some(PathBuf::from(value()?)),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--type" => log_type = Some(value()?),
            "--threads" => {
                threads = value()?
                    .split(',')
                    .map(|t| t.parse().map_err(|e| format!("--threads {t}: {e}")))
                    .collect::<Result<_, _>>()?;
            }
            "--repeat" => repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            _ if a.starts_with("--") => return Err(format!("unknown flag {a}\n{USAGE}")),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let missing = |what: &str| format!("missing {what}\n{USAGE}");
    Ok(Args {
        config: config.ok_or_else(|| missing("--config"))?,
        patterns: patterns.ok_or_else(|| missing("--patterns"))?,
        data: data.ok_or_else(|| missing("--data"))?,
        log_type: log_type.ok_or_else(|| missing("--type"))?,
        threads: threads.into_iter().map(|t: usize| t.max(1)).collect(),
        repeat: repeat.max(1),
        file: file.ok_or_else(|| missing("FILE"))?,
    })
}

/// Peak resident set size of this process in KiB (`VmHWM`), 0 when unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Lines handed to a thread at a time.
const BATCH: usize = 512;

/// CPU time (user + system) of this process so far, in seconds (`/proc/self/stat`, clock
/// ticks of 1/100 s), 0 when unknown.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Reads batches of lines from `input` and parses them as the replay does, until the input
/// ends; returns (lines, parsed).
fn parse_stream(
    parsers: &Parsers,
    input: &Mutex<Box<dyn BufRead + Send>>,
    src: &str,
    log_type: &str,
) -> Result<(u64, u64), String> {
    let (mut lines, mut parsed) = (0, 0);
    let mut batch: Vec<String> = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        {
            let mut reader = input
                .lock()
                .map_err(|_| "reader lock poisoned".to_owned())?;
            for _ in 0..BATCH {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        let trimmed = line.trim_end_matches(['\n', '\r']).len();
                        line.truncate(trimmed);
                        batch.push(line);
                    }
                    Err(e) => return Err(format!("reading: {e}")),
                }
            }
        }
        if batch.is_empty() {
            return Ok((lines, parsed));
        }
        for line in batch.drain(..) {
            let mut evt = Event::new_log(line, "file");
            src.clone_into(&mut evt.line.src);
            evt.line.labels.insert("type".into(), log_type.into());
            if parsers.parse(&mut evt).is_ok() && evt.process {
                parsed += 1;
            }
            lines += 1;
        }
    }
}

fn run() -> Result<(), String> {
    let a = args()?;
    let src = a.file.to_string_lossy().into_owned();
    let load_start = Instant::now();
    let parsers = LoaderBuilder::new(&a.data)
        .patterns_dir(&a.patterns)
        .map_err(|e| format!("patterns: {e}"))?
        .build()
        .load_dir(&a.config.join("parsers"))
        .map_err(|e| format!("parsers: {e}"))?;
    let load_s = load_start.elapsed().as_secs_f64();
    for &threads in &a.threads {
        for _ in 0..a.repeat {
            let file = File::open(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
            let input: Mutex<Box<dyn BufRead + Send>> =
                Mutex::new(Box::new(BufReader::with_capacity(1 << 20, file)));
            let cpu0 = cpu_seconds();
            let start = Instant::now();
            let results: Vec<Result<(u64, u64), String>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| s.spawn(|| parse_stream(&parsers, &input, &src, &a.log_type)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err("thread panicked".to_owned()))
                    })
                    .collect()
            });
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            let (mut lines, mut parsed) = (0, 0);
            for r in results {
                let (l, p) = r?;
                lines += l;
                parsed += p;
            }
            println!(
                "{{\"file\":{:?},\"type\":{:?},\"threads\":{threads},\"lines\":{lines},\"parsed\":{parsed},\
                 \"seconds\":{secs:.4},\"cpu_s\":{cpu:.2},\"lines_per_s\":{:.0},\"lines_per_cpu_s\":{:.0},\
                 \"load_s\":{load_s:.3},\"peak_rss_mib\":{:.1}}}",
                src,
                a.log_type,
                lines as f64 / secs.max(1e-9),
                lines as f64 / cpu.max(1e-9),
                peak_rss_kib() as f64 / 1024.0,
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parse_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
