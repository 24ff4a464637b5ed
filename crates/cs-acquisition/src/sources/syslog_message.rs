//! Syslog messages (RFC 3164 and RFC 5424) and the line the `syslog` datasource builds from
//! them: `Mmm d hh:mm:ss host app[pid]: message`, the shape the hub's `syslog-logs` parser
//! reads, as upstream rebuilds it.
//!
//! RFC 3164 is tried first, then RFC 5424. The 3164 reading follows upstream's: `<PRI>`,
//! a timestamp (`Mmm dd hh:mm:ss` or `Mmm  d hh:mm:ss`, optionally followed by a year, or an
//! RFC 3339 timestamp), a hostname, a tag with an optional `[pid]`, an optional `:` and the
//! message. Two deliberate differences: a tag may hold any character but space, `[` and `:`
//! (upstream stops at the first non-alphanumeric character, which cuts `systemd-logind` in
//! two), and an RFC 3339 timestamp is the whole first word rather than exactly 25 bytes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// Which RFC a message followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc {
    /// BSD syslog.
    Rfc3164,
    /// The syslog protocol.
    Rfc5424,
}

/// The parts of a syslog message the rebuilt line uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// Which RFC matched.
    pub rfc: Rfc,
    /// The timestamp as written (its own wall clock), if any.
    pub timestamp: Option<NaiveDateTime>,
    /// Hostname (empty when absent).
    pub hostname: &'a [u8],
    /// Tag / app name (empty when absent).
    pub tag: &'a [u8],
    /// Process id (empty when absent).
    pub pid: &'a [u8],
    /// The message.
    pub message: &'a [u8],
}

/// Why a message was not recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Why RFC 3164 did not match.
    pub rfc3164: &'static str,
    /// Why RFC 5424 did not match.
    pub rfc5424: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unrecognized syslog message (rfc3164: {}; rfc5424: {})",
            self.rfc3164, self.rfc5424
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses a message as RFC 3164, else as RFC 5424.
pub fn parse(msg: &[u8]) -> Result<SyslogMessage<'_>, ParseError> {
    match parse_3164(msg) {
        Ok(m) => Ok(m),
        Err(rfc3164) => parse_5424(msg).map_err(|rfc5424| ParseError { rfc3164, rfc5424 }),
    }
}

/// The line upstream hands to the parsers: `Mmm d hh:mm:ss host tag[pid]: message`. A
/// missing timestamp is replaced by `now`, a missing hostname by `unknownhost`.
pub fn to_line(m: &SyslogMessage<'_>, now: NaiveDateTime) -> String {
    let ts = m.timestamp.unwrap_or(now);
    let mut line = ts.format("%b %-d %H:%M:%S").to_string();
    line.push(' ');
    if m.hostname.is_empty() {
        line.push_str("unknownhost");
    } else {
        line.push_str(&String::from_utf8_lossy(m.hostname));
    }
    if !m.tag.is_empty() {
        line.push(' ');
        line.push_str(&String::from_utf8_lossy(m.tag));
    }
    if m.pid.is_empty() {
        line.push_str(": ");
    } else {
        line.push('[');
        line.push_str(&String::from_utf8_lossy(m.pid));
        line.push_str("]: ");
    }
    line.push_str(&String::from_utf8_lossy(m.message));
    if line.ends_with('\n') {
        line.pop();
    }
    line
}

/// Removes `<PRI>` only (`disable_rfc_parser: true`): the rest is the line.
pub fn strip_pri(msg: &[u8]) -> Result<&[u8], &'static str> {
    if msg.len() < 3 {
        return Err("message too short");
    }
    if msg[0] != b'<' {
        return Err("missing PRI beginning");
    }
    let end = memchr::memchr(b'>', msg).ok_or("missing PRI end")?;
    if end > 4 {
        return Err("PRI too long");
    }
    if !msg[1..end].iter().all(u8::is_ascii_digit) {
        return Err("PRI not a number");
    }
    let rest = &msg[end + 1..];
    Ok(rest.strip_suffix(b"\n").unwrap_or(rest))
}

/// `<PRI>`: returns the position after `>`.
fn pri(buf: &[u8]) -> Result<usize, &'static str> {
    if buf.first() != Some(&b'<') {
        return Err("PRI must start with '<'");
    }
    let mut value = 0u32;
    for (i, &c) in buf.iter().enumerate().skip(1) {
        if c == b'>' {
            return Ok(i + 1);
        }
        if !c.is_ascii_digit() {
            return Err("PRI must be a number");
        }
        value = value * 10 + u32::from(c - b'0');
        if value > 999 {
            return Err("PRI must be up to 3 characters long");
        }
    }
    Err("PRI must end with '>'")
}

/// The word starting at `pos` (up to a space or the end) and the position after its space.
fn word(buf: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = &buf[pos.min(buf.len())..];
    match memchr::memchr(b' ', rest) {
        Some(i) => (&rest[..i], pos + i + 1),
        None => (rest, buf.len()),
    }
}

fn month(b: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower = [
        b.first()?.to_ascii_lowercase(),
        b.get(1)?.to_ascii_lowercase(),
        b.get(2)?.to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `Mmm dd hh:mm:ss[ yyyy]` (day also ` d`): the time and the bytes used.
fn legacy_timestamp(buf: &[u8]) -> Option<(NaiveDateTime, usize)> {
    if buf.len() < 15 || buf[3] != b' ' || buf[6] != b' ' {
        return None;
    }
    let m = month(&buf[..3])?;
    let day = if buf[4] == b' ' {
        digits(&buf[5..6])?
    } else {
        digits(&buf[4..6])?
    };
    let t = &buf[7..15];
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let time = NaiveTime::from_hms_opt(digits(&t[..2])?, digits(&t[3..5])?, digits(&t[6..8])?)?;
    let (year, used) = match buf.get(15..20) {
        Some([b' ', y @ ..]) if digits(y).is_some() => (digits(y).map(|y| y as i32), 20),
        _ => (None, 15),
    };
    // Without a year, a leap year keeps `Feb 29` valid; only month, day and time are shown.
    let date = NaiveDate::from_ymd_opt(year.unwrap_or(2000), m, day)?;
    Some((date.and_time(time), used))
}

fn parse_3164(buf: &[u8]) -> Result<SyslogMessage<'_>, &'static str> {
    if buf.is_empty() {
        return Err("message is empty");
    }
    let mut pos = pri(buf)?;
    let (first, after_first) = word(buf, pos);
    let timestamp = match std::str::from_utf8(first)
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    {
        Some(t) => {
            pos = after_first;
            t.naive_local()
        }
        None => {
            let (t, used) = legacy_timestamp(&buf[pos..]).ok_or("timestamp is not valid")?;
            // The character after the timestamp (a space) is skipped whatever it is.
            pos += used + 1;
            t
        }
    };
    let (hostname, next) = word(buf, pos);
    if hostname.is_empty() {
        return Err("hostname is empty");
    }
    pos = next;
    let rest = &buf[pos.min(buf.len())..];
    let tag_len = rest
        .iter()
        .position(|c| matches!(c, b' ' | b'[' | b':'))
        .unwrap_or(rest.len());
    if tag_len == 0 {
        return Err("tag is empty");
    }
    let tag = &rest[..tag_len];
    pos += tag_len;
    let mut pid: &[u8] = b"";
    if buf.get(pos) == Some(&b'[') {
        let inner = &buf[pos + 1..];
        let end = memchr::memchr(b']', inner).ok_or("pid inside tag must be closed with ']'")?;
        if !inner[..end].iter().all(u8::is_ascii_digit) {
            return Err("pid inside tag must be a number");
        }
        pid = &inner[..end];
        pos += end + 2;
    }
    if pos >= buf.len() {
        return Err("message is empty");
    }
    if buf[pos] == b':' {
        pos += 1;
    }
    while buf.get(pos) == Some(&b' ') {
        pos += 1;
    }
    if pos >= buf.len() {
        return Err("message is empty");
    }
    Ok(SyslogMessage {
        rfc: Rfc::Rfc3164,
        timestamp: Some(timestamp),
        hostname,
        tag,
        pid,
        message: &buf[pos..],
    })
}

/// A 5424 header field: `-` is empty; returns the field and the position after it.
fn field<'a>(
    buf: &'a [u8],
    pos: usize,
    max: usize,
    what: &'static str,
) -> Result<(&'a [u8], usize), &'static str> {
    if pos >= buf.len() {
        return Err(what);
    }
    let (w, next) = word(buf, pos);
    if w == b"-" {
        return Ok((b"", next));
    }
    if w.is_empty() || w.len() > max {
        return Err(what);
    }
    Ok((w, next))
}

fn parse_5424(buf: &[u8]) -> Result<SyslogMessage<'_>, &'static str> {
    if buf.is_empty() {
        return Err("syslog line is empty");
    }
    let mut pos = pri(buf)?;
    if buf.get(pos) != Some(&b'1') || buf.get(pos + 1) != Some(&b' ') {
        return Err("version must be 1");
    }
    pos += 2;
    let (ts, next) = field(buf, pos, 64, "timestamp is not valid")?;
    let timestamp = if ts.is_empty() {
        None
    } else {
        let t = std::str::from_utf8(ts)
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or("timestamp is not valid")?;
        Some(t.naive_local())
    };
    let (hostname, next) = field(buf, next, 255, "hostname is not valid")?;
    let (tag, next) = field(buf, next, 48, "appname is not valid")?;
    let (pid, next) = field(buf, next, 128, "procid is not valid")?;
    let (_msgid, next) = field(buf, next, 32, "msgid is not valid")?;
    pos = next;
    match buf.get(pos) {
        Some(b'-') => pos += 2,
        Some(b'[') => {
            // Structured data: one or more `[...]` elements (`\]` escapes a bracket).
            while buf.get(pos) == Some(&b'[') {
                let mut i = pos + 1;
                loop {
                    match buf.get(i) {
                        None => return Err("structured data must end with ']'"),
                        Some(b']') if buf[i - 1] != b'\\' => break,
                        Some(_) => i += 1,
                    }
                }
                pos = i + 1;
            }
            if buf.get(pos) == Some(&b' ') {
                pos += 1;
            }
        }
        _ => return Err("structured data must start with '[' or be '-'"),
    }
    if pos >= buf.len() {
        return Err("message is empty");
    }
    Ok(SyslogMessage {
        rfc: Rfc::Rfc5424,
        timestamp,
        hostname,
        tag,
        pid,
        message: &buf[pos..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(13, 0, 0)
            .unwrap()
    }

    /// Parses `msg` and checks the RFC and rebuilt line (or the failure).
    fn check(msg: &str, expected: Option<(Rfc, &str)>) {
        match (parse(msg.as_bytes()), expected) {
            (Ok(m), Some((rfc, line))) => {
                assert_eq!(m.rfc, rfc, "{msg}");
                assert_eq!(to_line(&m, now()), line, "{msg}");
            }
            (Err(_), None) => {}
            (got, want) => panic!("{msg}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn rfc3164_messages_are_rebuilt() {
        check(
            "<38>Nov 22 10:00:00 web1 sshd[4242]: Failed password for root from 1.2.3.4 port 22 ssh2",
            Some((
                Rfc::Rfc3164,
                "Nov 22 10:00:00 web1 sshd[4242]: Failed password for root from 1.2.3.4 port 22 ssh2",
            )),
        );
        check(
            "<13>Nov  5 01:02:03 host app: hello\n",
            Some((Rfc::Rfc3164, "Nov 5 01:02:03 host app: hello")),
        );
        check(
            "<13>Feb 29 01:02:03 2024 host systemd-logind[12]: New session",
            Some((
                Rfc::Rfc3164,
                "Feb 29 01:02:03 host systemd-logind[12]: New session",
            )),
        );
        check(
            "<13>2026-11-22T10:00:00.5+01:00 host kernel: oops",
            Some((Rfc::Rfc3164, "Nov 22 10:00:00 host kernel: oops")),
        );
        check(
            "<13>Nov 22 10:00:00 host su message without colon",
            Some((
                Rfc::Rfc3164,
                "Nov 22 10:00:00 host su: message without colon",
            )),
        );
    }

    #[test]
    fn rfc5424_messages_are_rebuilt() {
        check(
            "<34>1 2026-11-22T10:00:00.123Z web1 sshd 4242 ID47 - Invalid user admin from 5.6.7.8",
            Some((
                Rfc::Rfc5424,
                "Nov 22 10:00:00 web1 sshd[4242]: Invalid user admin from 5.6.7.8",
            )),
        );
        check(
            r#"<165>1 2026-11-22T10:00:00+02:00 h app - - [ex@32473 a="1\]" b="2"][x@1 c="3"] msg here"#,
            Some((Rfc::Rfc5424, "Nov 22 10:00:00 h app: msg here")),
        );
        check(
            "<14>1 - - - - - - only message",
            Some((Rfc::Rfc5424, "Nov 22 13:00:00 unknownhost: only message")),
        );
    }

    #[test]
    fn garbage_is_refused() {
        for msg in [
            "",
            "hello",
            "<>",
            "<1234>Nov 22 10:00:00 h t: m",
            "<13>Nov 31 10:00:00 h t: m",
            "<13>Nov 22 10:00:00 h t:",
            "<13>Nov 22 10:00:00 h t[12x]: m",
            "<13>Nov 22 25:00:00 h t: m",
            "<34>2 2026-11-22T10:00:00Z h a p m - msg",
            "<34>1 2026-11-22T10:00:00Z h a p m [unterminated msg",
            "<34>1 2026-11-22T10:00:00Z h a p m -",
            "<34>1 yesterday h a p m - msg",
        ] {
            check(msg, None);
        }
        let err = parse(b"junk").unwrap_err();
        assert!(err.to_string().contains("rfc3164: PRI must start"), "{err}");
    }

    #[test]
    fn pri_can_be_stripped_alone() {
        assert_eq!(
            strip_pri(b"<13>anything at all\n"),
            Ok(&b"anything at all"[..])
        );
        assert!(strip_pri(b"<13").is_err());
        assert!(strip_pri(b"<1a>x").is_err());
        assert!(strip_pri(b"<12345>x").is_err());
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing returns (and a recognised message rebuilds a
        /// line without a line break at its end).
        #[test]
        fn any_bytes_are_handled(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(m) = parse(&msg) {
                let line = to_line(&m, now());
                proptest::prop_assert!(!line.ends_with('\n'));
            }
            let _ = strip_pri(&msg);
        }

        /// Well-formed RFC 3164 messages keep their host, tag, pid and message.
        #[test]
        fn rfc3164_parts_survive(
            day in 1u32..29,
            host in "[a-z][a-z0-9.-]{0,20}",
            tag in "[a-zA-Z][a-zA-Z0-9_-]{0,15}",
            pid in proptest::option::of(1u32..99999),
            text in "[ -~]{0,80}[!-~]",
        ) {
            let pid_part = pid.map(|p| format!("[{p}]")).unwrap_or_default();
            let msg = format!("<13>Mar {day:>2} 01:02:03 {host} {tag}{pid_part}: {text}");
            let m = parse(msg.as_bytes()).unwrap();
            let text = text.trim_start();
            proptest::prop_assert_eq!(
                to_line(&m, now()),
                format!("Mar {day} 01:02:03 {host} {tag}{pid_part}: {text}")
            );
        }
    }
}
