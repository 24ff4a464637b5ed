//! Go `time.Parse` layouts (`2006-01-02 15:04:05`) and Go's RFC3339Nano output.
//!
//! Parser authors write `StrTimeFormat` in Go's reference-time notation, and `ParseDate`
//! tries a fixed list of Go layouts, so the port has to accept exactly what Go accepts:
//! case-insensitive month and day names, a run of spaces matching one or more spaces,
//! one- or two-digit days for `2`, fractional seconds accepted after `05` even when the
//! layout has none, invented zone abbreviations for `MST`, and range-checked fields.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

/// Why a value did not match a layout (details are only useful for debug logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoParseError {
    /// The value does not follow the layout.
    Bad,
    /// A field is out of its range (month 13, day 31 in April...).
    Range,
    /// The value has text after the end of the layout.
    ExtraText,
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000` / `,000`: exactly that many digits.
    FracSecond0(usize),
    /// `.999` / `,999`: optional, any number of digits.
    FracSecond9,
}

fn starts_with_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// Splits `layout` into (literal prefix, element, rest), like Go's `nextStdChunk`.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Every element starts with an ASCII byte: skip the inside of other characters.
        if !layout.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &layout[i..];
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if rest.starts_with("Jan") => {
                if rest.starts_with("January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_with_lower(&b[i + 3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("Mon") => {
                if rest.starts_with("Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_with_lower(&b[i + 3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if rest.starts_with("MST") => Some((Std::Tz, 3)),
            b'0' if b.len() > i + 1 && (b'1'..=b'6').contains(&b[i + 1]) => {
                let std = match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                };
                Some((std, 2))
            }
            b'0' if rest.starts_with("002") => Some((Std::ZeroYearDay, 3)),
            b'1' if rest.starts_with("15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if rest.starts_with("_2") => {
                if rest.starts_with("_2006") {
                    // `_2006` is a literal underscore followed by the year.
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if rest.starts_with("__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Std::Pm, 2)),
            b'p' if rest.starts_with("pm") => Some((Std::LowerPm, 2)),
            b'-' => [
                ("-070000", Std::NumSecondsTz),
                ("-07:00:00", Std::NumColonSecondsTz),
                ("-0700", Std::NumTz),
                ("-07:00", Std::NumColonTz),
                ("-07", Std::NumShortTz),
            ]
            .into_iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(p, s)| (s, p.len())),
            b'Z' => [
                ("Z070000", Std::Iso8601SecondsTz),
                ("Z07:00:00", Std::Iso8601ColonSecondsTz),
                ("Z0700", Std::Iso8601Tz),
                ("Z07:00", Std::Iso8601ColonTz),
                ("Z07", Std::Iso8601ShortTz),
            ]
            .into_iter()
            .find(|(p, _)| rest.starts_with(p))
            .map(|(p, s)| (s, p.len())),
            b'.' | b',' if b.len() > i + 1 && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                // Only a run of identical digits that ends here is a fractional second.
                if is_digit(b, j) {
                    None
                } else if ch == b'0' {
                    Some((Std::FracSecond0(j - (i + 1)), j - i))
                } else {
                    Some((Std::FracSecond9, j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
        i += 1;
    }
    (layout, None, "")
}

const SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Case-insensitive prefix lookup in a name table; returns the index and the rest.
fn lookup<'a>(tab: &[&str], value: &'a str) -> Result<(usize, &'a str), GoParseError> {
    for (i, name) in tab.iter().enumerate() {
        if value.len() >= name.len()
            && value.is_char_boundary(name.len())
            && value[..name.len()].eq_ignore_ascii_case(name)
        {
            return Ok((i, &value[name.len()..]));
        }
    }
    Err(GoParseError::Bad)
}

/// One or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Result<(i64, &str), GoParseError> {
    let b = s.as_bytes();
    if !is_digit(b, 0) {
        return Err(GoParseError::Bad);
    }
    if !is_digit(b, 1) {
        if fixed {
            return Err(GoParseError::Bad);
        }
        return Ok((i64::from(b[0] - b'0'), &s[1..]));
    }
    Ok((
        i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
        &s[2..],
    ))
}

/// One to three digits (exactly three when `fixed`).
fn getnum3(s: &str, fixed: bool) -> Result<(i64, &str), GoParseError> {
    let b = s.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit(b, i) {
        n = n * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return Err(GoParseError::Bad);
    }
    Ok((n, &s[i..]))
}

/// Go's `skip`: matches the literal `prefix`, where a run of spaces matches any run of
/// spaces (including none at the end of the value).
fn skip<'a>(mut value: &'a str, mut prefix: &str) -> Result<&'a str, GoParseError> {
    while let Some(&p) = prefix.as_bytes().first() {
        if p == b' ' {
            if value.as_bytes().first().is_some_and(|&c| c != b' ') {
                return Err(GoParseError::Bad);
            }
            prefix = prefix.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        // Compare whole characters so that a non-ASCII literal never splits one.
        let Some(c) = prefix.chars().next() else {
            break;
        };
        if !value.starts_with(c) {
            return Err(GoParseError::Bad);
        }
        prefix = &prefix[c.len_utf8()..];
        value = &value[c.len_utf8()..];
    }
    Ok(value)
}

/// Nanoseconds from `value[..nbytes]`, which starts with `.` or `,`.
fn parse_nanos(value: &str, nbytes: usize) -> Result<i64, GoParseError> {
    let b = value.as_bytes();
    if !matches!(b.first(), Some(b'.' | b',')) || b.len() < nbytes {
        return Err(GoParseError::Bad);
    }
    let nbytes = nbytes.min(10);
    // Checked on bytes first: slicing the text is then on ASCII boundaries.
    if !b[1..nbytes].iter().all(u8::is_ascii_digit) {
        return Err(GoParseError::Bad);
    }
    let mut ns: i64 = value[1..nbytes].parse().map_err(|_| GoParseError::Bad)?;
    for _ in nbytes..10 {
        ns *= 10;
    }
    Ok(ns)
}

/// Length of a `+hh`/`-h` offset as Go's zone-abbreviation parser accepts it, 0 if none.
fn signed_offset_len(value: &str) -> usize {
    let b = value.as_bytes();
    if !matches!(b.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return 0;
    }
    match value[1..1 + digits].parse::<u64>() {
        Ok(x) if x <= 12 => 1 + digits,
        _ => 0,
    }
}

/// Length of a time zone abbreviation at the start of `value` (Go's `parseTimeZone`).
fn time_zone_len(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        return Some(3 + signed_offset_len(rest));
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = signed_offset_len(value);
        return (n > 0).then_some(n);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if b[4] == b'T' => Some(5),
        _ => None,
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `value` with the Go `layout`, as `time.Parse` does (no location: UTC, and
/// zone abbreviations other than `UTC`/`GMT±n` get offset 0).
pub fn parse(layout: &str, value: &str) -> Result<DateTime<FixedOffset>, GoParseError> {
    let mut layout = layout;
    let mut value = value;
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut pm_set, mut am_set) = (false, false);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name: Option<&str> = None;

    loop {
        let (prefix, std, suffix) = next_chunk(layout);
        value = skip(value, prefix)?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(GoParseError::ExtraText);
            }
            break;
        };
        layout = suffix;
        match std {
            Std::LongYear => {
                if value.len() < 4 || !is_digit(value.as_bytes(), 0) || !value.is_char_boundary(4) {
                    return Err(GoParseError::Bad);
                }
                year = value[..4].parse().map_err(|_| GoParseError::Bad)?;
                value = &value[4..];
            }
            Std::Year => {
                if value.len() < 2 || !value.is_char_boundary(2) {
                    return Err(GoParseError::Bad);
                }
                let y: i64 = value[..2].parse().map_err(|_| GoParseError::Bad)?;
                if !value.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
                    return Err(GoParseError::Bad);
                }
                year = if y >= 69 { y + 1900 } else { y + 2000 };
                value = &value[2..];
            }
            Std::Month | Std::LongMonth => {
                let tab: &[&str] = if std == Std::Month {
                    &SHORT_MONTHS
                } else {
                    &LONG_MONTHS
                };
                let (m, rest) = lookup(tab, value)?;
                month = m as i64 + 1;
                value = rest;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                if !(1..=12).contains(&m) {
                    return Err(GoParseError::Range);
                }
                month = m;
                value = rest;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let tab: &[&str] = if std == Std::WeekDay {
                    &SHORT_DAYS
                } else {
                    &LONG_DAYS
                };
                value = lookup(tab, value)?.1;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                // Validated against the month once everything is parsed.
                day = d;
                value = rest;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                }
                let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                yday = d;
                value = rest;
            }
            Std::Hour => {
                let (h, rest) = getnum(value, false)?;
                if !(0..24).contains(&h) {
                    return Err(GoParseError::Range);
                }
                hour = h;
                value = rest;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                if !(0..=12).contains(&h) {
                    return Err(GoParseError::Range);
                }
                hour = h;
                value = rest;
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                if !(0..60).contains(&m) {
                    return Err(GoParseError::Range);
                }
                min = m;
                value = rest;
            }
            Std::Second | Std::ZeroSecond => {
                let (s, rest) = getnum(value, std == Std::ZeroSecond)?;
                if !(0..60).contains(&s) {
                    return Err(GoParseError::Range);
                }
                sec = s;
                value = rest;
                // Go accepts a fractional second here even when the layout has none,
                // unless the layout's next element is itself a fractional second.
                let vb = value.as_bytes();
                if vb.len() >= 2 && matches!(vb[0], b'.' | b',') && vb[1].is_ascii_digit() {
                    let next = next_chunk(layout).1;
                    if !matches!(next, Some(Std::FracSecond0(_) | Std::FracSecond9)) {
                        let n = 2 + vb[2..].iter().take_while(|c| c.is_ascii_digit()).count();
                        nsec = parse_nanos(value, n)?;
                        value = &value[n..];
                    }
                }
            }
            Std::Pm | Std::LowerPm => {
                let (pm, am) = if std == Std::Pm {
                    ("PM", "AM")
                } else {
                    ("pm", "am")
                };
                if value.starts_with(pm) {
                    pm_set = true;
                } else if value.starts_with(am) {
                    am_set = true;
                } else {
                    return Err(GoParseError::Bad);
                }
                value = &value[2..];
            }
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && value.starts_with('Z') {
                    value = &value[1..];
                    utc = true;
                    continue;
                }
                let vb = value.as_bytes();
                let at = |i: usize| vb.get(i).copied();
                // (hours, minutes, seconds) byte ranges and the total length.
                let (h, m, s, len) = match std {
                    Std::Iso8601ColonTz | Std::NumColonTz => {
                        if at(3) != Some(b':') {
                            return Err(GoParseError::Bad);
                        }
                        (1..3, Some(4..6), None, 6)
                    }
                    Std::NumShortTz | Std::Iso8601ShortTz => (1..3, None, None, 3),
                    Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => {
                        if at(3) != Some(b':') || at(6) != Some(b':') {
                            return Err(GoParseError::Bad);
                        }
                        (1..3, Some(4..6), Some(7..9), 9)
                    }
                    Std::Iso8601SecondsTz | Std::NumSecondsTz => (1..3, Some(3..5), Some(5..7), 7),
                    _ => (1..3, Some(3..5), None, 5),
                };
                if vb.len() < len || !vb[..len].is_ascii() {
                    return Err(GoParseError::Bad);
                }
                let two = |r: std::ops::Range<usize>| getnum(&value[r], true).map(|(n, _)| n);
                let hr = two(h)?;
                let mm = m.map(two).transpose()?.unwrap_or(0);
                let ss = s.map(two).transpose()?.unwrap_or(0);
                // Go compares with `>`: offsets of 24 hours or 60 minutes are accepted.
                if hr > 24 || mm > 60 || ss > 60 {
                    return Err(GoParseError::Range);
                }
                let off = (hr * 60 + mm) * 60 + ss;
                zone_offset = Some(match vb[0] {
                    b'+' => off,
                    b'-' => -off,
                    _ => return Err(GoParseError::Bad),
                });
                value = &value[len..];
            }
            Std::Tz => {
                if value.starts_with("UTC") {
                    utc = true;
                    value = &value[3..];
                    continue;
                }
                let n = time_zone_len(value).ok_or(GoParseError::Bad)?;
                zone_name = Some(&value[..n]);
                value = &value[n..];
            }
            Std::FracSecond0(digits) => {
                let ndigit = 1 + digits;
                nsec = parse_nanos(value, ndigit)?;
                // parse_nanos checked that the first `ndigit` bytes are ASCII (when it
                // looked at all of them; longer runs are cut at 10 bytes).
                if !value.is_char_boundary(ndigit) {
                    return Err(GoParseError::Bad);
                }
                value = &value[ndigit..];
            }
            Std::FracSecond9 => {
                let vb = value.as_bytes();
                if vb.len() < 2 || !matches!(vb[0], b'.' | b',') || !vb[1].is_ascii_digit() {
                    // The fractional second is optional.
                    continue;
                }
                let n = 1 + vb[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                nsec = parse_nanos(value, n)?;
                value = &value[n..];
            }
        }
    }

    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }

    if yday >= 0 {
        let leap = i64::from(is_leap(year));
        if yday < 1 || yday > 365 + leap {
            return Err(GoParseError::Range);
        }
        let (mut m, mut d) = (1, yday);
        while d > days_in(m, year) {
            d -= days_in(m, year);
            m += 1;
        }
        if (month >= 0 && month != m) || (day >= 0 && day != d) {
            return Err(GoParseError::Range);
        }
        month = m;
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(GoParseError::Range);
    }

    let naive = NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .and_then(|d| d.and_hms_nano_opt(hour as u32, min as u32, sec as u32, nsec as u32))
        .ok_or(GoParseError::Range)?;
    let offset = if utc {
        0
    } else if let Some(off) = zone_offset {
        off
    } else if let Some(name) = zone_name {
        // The local zone is UTC; other abbreviations become a zone with offset 0,
        // except `GMT+n` whose offset is known.
        match name.strip_prefix("GMT") {
            Some(rest) if !rest.is_empty() => rest.parse::<i64>().unwrap_or(0) * 3600,
            _ => 0,
        }
    } else {
        0
    };
    let tz = FixedOffset::east_opt(offset as i32).ok_or(GoParseError::Range)?;
    tz.from_local_datetime(&naive)
        .single()
        .ok_or(GoParseError::Range)
}

/// Go's `Time.IsZero`: January 1, year 1, 00:00:00 UTC.
pub fn is_zero(t: &DateTime<FixedOffset>) -> bool {
    let u = t.naive_utc();
    u == NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN)
}

/// Go's `t.AddDate(years, 0, 0)`: February 29 rolls over to March 1 in a common year.
pub fn add_years(t: &DateTime<FixedOffset>, years: i32) -> Option<DateTime<FixedOffset>> {
    let local = t.naive_local();
    let y = local.year() + years;
    let date = NaiveDate::from_ymd_opt(y, local.month(), local.day()).or_else(|| {
        NaiveDate::from_ymd_opt(y, local.month(), 1)?
            .checked_add_days(chrono::Days::new(u64::from(local.day() - 1)))
    })?;
    let naive = date.and_time(local.time());
    t.offset().from_local_datetime(&naive).single()
}

/// Go's `Time.MarshalText` (RFC3339 with nanoseconds, trailing zeros dropped, `Z` for
/// offset 0). `None` for years outside 0..=9999, which Go refuses to marshal.
pub fn marshal_text(t: &DateTime<FixedOffset>) -> Option<String> {
    (0..=9999)
        .contains(&t.year())
        .then(|| cs_types::format_rfc3339_nano(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(layout: &str, value: &str, expected: Option<&str>) {
        let got = parse(layout, value).ok().and_then(|t| marshal_text(&t));
        assert_eq!(
            got.as_deref(),
            expected,
            "layout {layout:?} value {value:?}"
        );
    }

    #[test]
    fn layouts() {
        check("2006/01/02", "2012/11/01", Some("2012-11-01T00:00:00Z"));
        check(
            "01/02/2006 15:04:05",
            "11/02/2012 13:37:05",
            Some("2012-11-02T13:37:05Z"),
        );
        check(
            "02/Jan/2006:15:04:05 -0700",
            "21/Jul/2021:14:59:09 +0200",
            Some("2021-07-21T14:59:09+02:00"),
        );
        check(
            "Jan  2 15:04:05",
            "Feb 12 14:10:21",
            Some("0000-02-12T14:10:21Z"),
        );
        check(
            "Jan  2 15:04:05",
            "Feb  2 14:10:21",
            Some("0000-02-02T14:10:21Z"),
        );
        check(
            "Jan  2 15:04:05",
            "feb 2 14:10:21",
            Some("0000-02-02T14:10:21Z"),
        );
        check("Jan  2 15:04:05", "Feb 30 14:10:21", None);
        check(
            "2006-01-02 15:04:05",
            "2021-01-01 10:00:00.123",
            Some("2021-01-01T10:00:00.123Z"),
        );
        check("2006-01-02 15:04:05", "2021-01-01 10:00:00 extra", None);
        check(
            "2006-01-02T15:04:05Z07:00",
            "2021-01-01T10:00:00.5+01:00",
            Some("2021-01-01T10:00:00.5+01:00"),
        );
        check(
            "2006-01-02T15:04:05Z07:00",
            "2021-01-01T10:00:00Z",
            Some("2021-01-01T10:00:00Z"),
        );
        check(
            "2006-01-02 15:04:05.999999999 -0700 MST",
            "2021-06-01 10:00:00.25 +0000 UTC",
            Some("2021-06-01T10:00:00.25Z"),
        );
        check(
            "2006-01-02 15:04:05.999999999 -0700 MST",
            "2021-06-01 10:00:00 +0200 CEST",
            Some("2021-06-01T10:00:00+02:00"),
        );
        check(
            "Mon Jan 02 15:04:05.000000 2006",
            "Tue Mar 09 10:11:12.123456 2021",
            Some("2021-03-09T10:11:12.123456Z"),
        );
        check(
            "Mon Jan 02 15:04:05.000000 2006",
            "Tue Mar 09 10:11:12.12 2021",
            None,
        );
        check("3:04PM", "1:30PM", Some("0000-01-01T13:30:00Z"));
        check("02-Jan-06", "05-feb-99", Some("1999-02-05T00:00:00Z"));
        check("2006 002", "2020 060", Some("2020-02-29T00:00:00Z"));
        check("Jan _2", "Mar  5", Some("0000-03-05T00:00:00Z"));
        check("", "", Some("0000-01-01T00:00:00Z"));
        check("2006-01-02", "", None);
    }

    #[test]
    fn marshal_text_like_go() {
        let at = |rfc3339: &str| {
            DateTime::parse_from_rfc3339(rfc3339)
                .ok()
                .and_then(|t| marshal_text(&t))
        };
        assert_eq!(
            at("0042-03-04T05:06:07Z").as_deref(),
            Some("0042-03-04T05:06:07Z")
        );
        assert_eq!(
            at("2021-01-01T10:00:00.000000001-07:30").as_deref(),
            Some("2021-01-01T10:00:00.000000001-07:30")
        );
        assert_eq!(
            at("2021-01-01T10:00:00.120000000+01:00").as_deref(),
            Some("2021-01-01T10:00:00.12+01:00")
        );
        assert_eq!(
            at("2021-12-31T23:59:59.999999999Z").as_deref(),
            Some("2021-12-31T23:59:59.999999999Z")
        );
        let far = FixedOffset::east_opt(0)
            .and_then(|z| z.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).single());
        assert_eq!(far.and_then(|t| marshal_text(&t)), None);
    }

    #[test]
    fn year_roll_over() {
        let t = parse("Jan  2", "Feb 29").unwrap_or_else(|e| panic!("{e:?}"));
        let t = add_years(&t, 2026).map(|t| marshal_text(&t));
        assert_eq!(t.flatten().as_deref(), Some("2026-03-01T00:00:00Z"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(layout_idx in 0usize..super::super::date::LAYOUTS.len(), value in "\\PC{0,40}") {
            let _ = parse(super::super::date::LAYOUTS[layout_idx], &value);
        }

        #[test]
        fn arbitrary_layouts_never_panic(layout in "[0-9A-Za-z _:./,+é-]{0,30}", value in "\\PC{0,30}") {
            let _ = parse(&layout, &value);
        }

        #[test]
        fn near_misses_never_panic(value in "[0-9 :.,+-é]{0,30}") {
            for layout in super::super::date::LAYOUTS {
                let _ = parse(layout, &value);
            }
            let _ = parse("2006-01-02 15:04:05.000 -07:00:00 MST", &value);
        }
    }

    #[test]
    fn zero_time() {
        let t = parse("2006-01-02", "0001-01-01").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(is_zero(&t));
    }
}
