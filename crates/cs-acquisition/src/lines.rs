//! Splitting a byte stream into lines with a bounded buffer.
//!
//! Rules shared by every datasource: a line ends at `\n` (a `\r` before it is removed),
//! empty lines are dropped, a line longer than the limit is skipped and counted, and bytes
//! that are not UTF-8 are replaced by U+FFFD (counted) so the line is still delivered.

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
    stats.lines += 1;
    match std::str::from_utf8(line) {
        Ok(text) => emit(text),
        Err(_) => {
            // Upstream hands the bytes on as they are; a Rust string must be UTF-8, so the
            // invalid sequences become U+FFFD and the line still reaches the parsers (an
            // attacker must not hide a line from detection with one stray byte).
            stats.invalid_utf8 += 1;
            emit(&String::from_utf8_lossy(line))
        }
    }
}

/// What [`LineSplitter`] found at the end of a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// A non-empty line; `invalid_utf8` tells whether bytes were replaced by U+FFFD.
    Line {
        /// The text, terminator removed.
        text: std::borrow::Cow<'a, str>,
        /// Whether the bytes were not valid UTF-8.
        invalid_utf8: bool,
    },
    /// A line longer than the limit, skipped.
    TooLong,
}

/// Incremental line splitting for streams that arrive in chunks (tailed files, a
/// journalctl pipe, syslog over TCP), with the same rules as [`for_each_line`]: `\n` or
/// `\r\n` terminators, empty lines dropped, lines over the limit skipped while memory stays
/// bounded.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    overlong: bool,
    /// Bytes fed since the last line boundary (kept or discarded).
    pending: u64,
    max_len: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_len: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            overlong: false,
            pending: 0,
            max_len: max_len.max(1),
        }
    }

    /// Bytes fed since the last complete line: where a reader resuming later must restart.
    pub(crate) fn pending(&self) -> u64 {
        self.pending
    }

    /// Feeds `data`, calling `emit` at each line end. Returns how many bytes of `data` were
    /// looked at: all of them, or up to the end of the line `emit` refused with `Break`.
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        emit: &mut dyn FnMut(Piece<'_>) -> ControlFlow<()>,
    ) -> (usize, ControlFlow<()>) {
        let mut used = 0;
        while used < data.len() {
            let rest = &data[used..];
            let (chunk, complete) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            if !self.overlong {
                if self.buf.len() + chunk.len() > self.max_len.saturating_add(1) {
                    self.overlong = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let step = chunk.len() + usize::from(complete);
            used += step;
            self.pending += step as u64;
            if complete {
                let flow = self.end_line(emit);
                if flow.is_break() {
                    return (used, flow);
                }
            }
        }
        (used, ControlFlow::Continue(()))
    }

    /// Ends the current partial line as if a terminator followed (the writer moved on:
    /// rotation, truncation, deletion, end of a stream).
    pub(crate) fn flush(
        &mut self,
        emit: &mut dyn FnMut(Piece<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.pending == 0 {
            return ControlFlow::Continue(());
        }
        self.end_line(emit)
    }

    /// Forgets the partial line.
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.overlong = false;
        self.pending = 0;
    }

    /// Hands the current line to `emit`. `Break` means the line was not taken: it stays
    /// pending (so [`pending`](Self::pending) still counts it) and the splitter must not be
    /// fed again.
    fn end_line(&mut self, emit: &mut dyn FnMut(Piece<'_>) -> ControlFlow<()>) -> ControlFlow<()> {
        let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        let flow = if self.overlong || line.len() > self.max_len {
            emit(Piece::TooLong)
        } else if line.is_empty() {
            ControlFlow::Continue(())
        } else {
            match std::str::from_utf8(line) {
                Ok(text) => emit(Piece::Line {
                    text: std::borrow::Cow::Borrowed(text),
                    invalid_utf8: false,
                }),
                Err(_) => emit(Piece::Line {
                    text: String::from_utf8_lossy(line),
                    invalid_utf8: true,
                }),
            }
        };
        if flow.is_continue() {
            self.buf.clear();
            self.overlong = false;
            self.pending = 0;
        }
        flow
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
                &["ok", "\u{fffd}\u{fffd}", "fine", "0123456789"],
                stats(4, 1, 1),
            );
        }
        // An unterminated overlong last line is skipped too.
        check(b"x\nyyyyyyyyyyyyyyyyyy", 4, 5, &["x"], stats(1, 1, 0));
    }

    /// Feeds `chunks` to a splitter and returns what it emitted.
    fn split(chunks: &[&[u8]], max_len: usize) -> (Vec<String>, usize, usize, u64) {
        let mut sp = LineSplitter::new(max_len);
        let (mut lines, mut too_long, mut invalid) = (Vec::new(), 0, 0);
        for chunk in chunks {
            let (used, flow) = sp.feed(chunk, &mut |p| {
                match p {
                    Piece::Line { text, invalid_utf8 } => {
                        invalid += usize::from(invalid_utf8);
                        lines.push(text.into_owned());
                    }
                    Piece::TooLong => too_long += 1,
                }
                ControlFlow::Continue(())
            });
            assert_eq!(used, chunk.len());
            assert!(flow.is_continue());
        }
        (lines, too_long, invalid, sp.pending())
    }

    #[test]
    fn splitter_joins_chunks_and_tracks_the_pending_partial_line() {
        let (lines, too_long, invalid, pending) = split(
            &[b"ab", b"c\r\nd\n\n", b"\xffz\n0123456789AB", b"CD\nta"],
            10,
        );
        assert_eq!(lines, ["abc", "d", "\u{fffd}z"]);
        assert_eq!((too_long, invalid, pending), (1, 1, 2));
    }

    #[test]
    fn splitter_stops_after_the_line_the_sink_refused() {
        let mut sp = LineSplitter::new(100);
        let mut got = Vec::new();
        let (used, flow) = sp.feed(b"a\nb\nc", &mut |p| {
            if let Piece::Line { text, .. } = p {
                got.push(text.into_owned());
            }
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(used, 2);
        assert_eq!(got, ["a"]);
        // The refused line is still pending: a reader resuming from the saved offset reads it.
        assert_eq!(sp.pending(), 2);
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
