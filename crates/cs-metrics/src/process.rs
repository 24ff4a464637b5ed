//! The `process_*` families the Go client serves by default, read from `/proc/self` on Linux
//! (nothing is served where it is missing).

use std::fmt::Write as _;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size used to turn `rss` pages into bytes; 4 KiB on every Linux target we build for.
const PAGE_SIZE: u64 = 4096;

struct Stat {
    cpu_seconds: f64,
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

fn read_stat() -> Option<Stat> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / TICKS_PER_SECOND,
        start_ticks: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

fn boot_time() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

fn family(out: &mut String, name: &str, help: &str, kind: &str, value: &dyn std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Appends the process families.
pub(crate) fn render(out: &mut String) {
    let Some(st) = read_stat() else { return };
    family(
        out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        &st.cpu_seconds,
    );
    if let Some(n) = open_fds() {
        family(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            "gauge",
            &n,
        );
    }
    family(
        out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        &(st.rss_pages * PAGE_SIZE),
    );
    if let Some(bt) = boot_time() {
        let start = bt as f64 + st.start_ticks as f64 / TICKS_PER_SECOND;
        family(
            out,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "gauge",
            &start,
        );
    }
    family(
        out,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        &st.vsize,
    );
}
