//! Runs the datasources of acquisition files and prints each line (`src<TAB>raw`), then the
//! per-input counters when stopped (Ctrl-C) or after `--count N` lines:
//! `cargo run -p cs-acquisition --example acquis-tail -- [--count N] [--quiet] STATE_DIR ACQUIS.yaml...`

use std::path::PathBuf;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut count = None;
    let mut quiet = false;
    while let Some(a) = args.first().cloned() {
        match a.as_str() {
            "--count" => {
                count = Some(
                    args.get(1)
                        .ok_or("--count needs a number")?
                        .parse::<u64>()?,
                );
                args.drain(..2);
            }
            "--quiet" => {
                quiet = true;
                args.remove(0);
            }
            _ => break,
        }
    }
    let state = PathBuf::from(
        args.first()
            .ok_or("usage: [--count N] [--quiet] STATE_DIR ACQUIS.yaml...")?,
    );
    let files: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    let configs = cs_acquisition::load_acquisition(&files)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let acq = cs_acquisition::start(configs, tx, &state).await?;
    for f in acq.failures() {
        eprintln!("failed: {}: {}", f.name, f.error);
    }
    let mut seen = 0u64;
    let mut first: Option<Instant> = None;
    loop {
        tokio::select! {
            line = rx.recv() => {
                let Some(line) = line else { break };
                first.get_or_insert_with(Instant::now);
                seen += 1;
                if !quiet {
                    println!("{}\t{}", line.src, line.raw);
                }
                if count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    if let Some(t) = first {
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{seen} lines in {secs:.3} s after the first ({:.0} lines/s)",
            seen as f64 / secs.max(1e-9)
        );
    }
    for s in acq.stats() {
        eprintln!("{s:?}");
    }
    acq.stop().await;
    Ok(())
}
