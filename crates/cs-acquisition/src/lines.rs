//! Splitting a byte stream into lines with a bounded buffer.

use std::io::BufRead;
use std::ops::ControlFlow;

use crate::ReadStats;

/// Longest line kept by default (longer ones are skipped): 1 MiB.
pub const DEFAULT_MAX_LINE_LENGTH: usize = 1 << 20;

/// Calls `emit` for each non-empty line of `reader` (terminator `\n` or `\r\n` removed).
/// A line longer than `max_len` bytes is discarded while it is being read, so memory stays
/// bounded whatever the input; it and lines that are not UTF-8 are counted in `stats`.
/// Returns `Break` when `emit` asked to stop.
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    max_len: usize,
    stats: &mut ReadStats,
    emit: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> std::io::Result<ControlFlow<()>> {
    let mut line: Vec<u8> = Vec::new();
    let mut overlong = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // The last line may lack its terminator.
            return Ok(finish(&line, overlong, max_len, stats, emit));
        }
        let (chunk, complete) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        if !overlong {
            // One byte of slack for the `\r` of a CRLF terminator, checked in `finish`.
            if line.len() + chunk.len() > max_len.saturating_add(1) {
                overlong = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(complete);
        reader.consume(used);
        if complete {
            if finish(&line, overlong, max_len, stats, emit).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            line.clear();
            overlong = false;
        }
    }
}

fn finish(
    line: &[u8],
    overlong: bool,
    max_len: usize,
    stats: &mut ReadStats,
    emit: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if overlong || line.len() > max_len {
        stats.too_long += 1;
        return ControlFlow::Continue(());
    }
    // Upstream's file datasource drops empty lines without counting them.
    if line.is_empty() {
        return ControlFlow::Continue(());
    }
    match std::str::from_utf8(line) {
        Ok(text) => {
            stats.lines += 1;
            emit(text)
        }
        Err(_) => {
            stats.invalid_utf8 += 1;
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `input` read through a buffer of `capacity` bytes.
    fn check(input: &[u8], capacity: usize, max_len: usize, lines: &[&str], stats: ReadStats) {
        let reader = std::io::BufReader::with_capacity(capacity, input);
        let mut got = Vec::new();
        let mut st = ReadStats::default();
        let flow = for_each_line(reader, max_len, &mut st, &mut |l| {
            got.push(l.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(flow.is_continue());
        assert_eq!(got, lines);
        assert_eq!(st, stats);
    }

    fn stats(lines: u64, too_long: u64, invalid_utf8: u64) -> ReadStats {
        ReadStats {
            lines,
            too_long,
            invalid_utf8,
            inputs: 0,
        }
    }

    #[test]
    fn lines_are_split_on_lf_and_crlf_and_empty_ones_dropped() {
        for cap in [1, 2, 3, 64] {
            check(
                b"a\r\nbc\n\n\ndef",
                cap,
                10,
                &["a", "bc", "def"],
                stats(3, 0, 0),
            );
        }
    }

    #[test]
    fn overlong_and_invalid_utf8_lines_are_skipped_and_counted() {
        let input = b"ok\n0123456789abc\n\xff\xfe\nfine\r\n0123456789\r\n";
        for cap in [1, 4, 64] {
            check(
                input,
                cap,
                10,
                &["ok", "fine", "0123456789"],
                stats(3, 1, 1),
            );
        }
        // An unterminated overlong last line is skipped too.
        check(b"x\nyyyyyyyyyyyyyyyyyy", 4, 5, &["x"], stats(1, 1, 0));
    }

    #[test]
    fn sink_can_stop_reading() {
        let mut got = Vec::new();
        let mut st = ReadStats::default();
        let flow = for_each_line(&b"a\nb\nc\n"[..], 10, &mut st, &mut |l| {
            got.push(l.to_owned());
            if l == "b" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert!(flow.is_break());
        assert_eq!(got, ["a", "b"]);
    }
}
