//! Time and geometry helpers: `ParseUnix`, `AverageInterval`, `MedianInterval`, `Distance`.

use chrono::{DateTime, FixedOffset, TimeZone as _};

use crate::strings::parse_go_float;

/// CrowdSec `ParseUnix(s)`: the integer part (before the first `.`) as Unix seconds, printed
/// RFC3339 in the local time zone; `""` when it is not a positive integer.
pub fn parse_unix(s: &str) -> String {
    let int_part = s.split('.').next().unwrap_or("");
    let Some(secs) = crate::net::parse_go_atoi(int_part).filter(|&n| n > 0) else {
        return String::new();
    };
    match chrono::Local.timestamp_opt(secs, 0).single() {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => String::new(),
    }
}

/// Consecutive gaps (in nanoseconds) between the instants, once sorted ascending.
fn gaps(times: &mut [DateTime<FixedOffset>]) -> Vec<i64> {
    times.sort();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_nanoseconds().unwrap_or(i64::MAX))
        .collect()
}

/// CrowdSec `AverageInterval(times)`: mean gap in nanoseconds; `None` with fewer than two.
pub fn average_interval(mut times: Vec<DateTime<FixedOffset>>) -> Option<i64> {
    if times.len() < 2 {
        return None;
    }
    let gaps = gaps(&mut times);
    let total: i128 = gaps.iter().map(|&g| i128::from(g)).sum();
    Some((total / gaps.len() as i128) as i64)
}

/// CrowdSec `MedianInterval(times)`: median gap in nanoseconds (mean of the two middle gaps
/// when their count is even); `None` with fewer than two instants.
pub fn median_interval(mut times: Vec<DateTime<FixedOffset>>) -> Option<i64> {
    if times.len() < 2 {
        return None;
    }
    let mut gaps = gaps(&mut times);
    gaps.sort_unstable();
    let n = gaps.len();
    Some(if n % 2 == 1 {
        gaps[n / 2]
    } else {
        // Go adds the two durations (wrapping on overflow) before halving.
        gaps[n / 2 - 1].wrapping_add(gaps[n / 2]) / 2
    })
}

/// CrowdSec `Distance(lat1, lon1, lat2, lon2)`: haversine distance in km (Earth radius 6371);
/// 0 when either point is (0, 0); `Err` names the coordinate that is not a number.
pub fn distance(lat1: &str, lon1: &str, lat2: &str, lon2: &str) -> Result<f64, String> {
    let parse = |name: &str, v: &str| {
        parse_go_float(v).ok_or_else(|| format!("{name} is not a float : {v:?}"))
    };
    let (la1, lo1) = (parse("lat1", lat1)?, parse("long1", lon1)?);
    let (la2, lo2) = (parse("lat2", lat2)?, parse("long2", lon2)?);
    if (la1 == 0.0 && lo1 == 0.0) || (la2 == 0.0 && lo2 == 0.0) {
        return Ok(0.0);
    }
    let (p1, p2) = (la1.to_radians(), la2.to_radians());
    let (dlat, dlon) = (p2 - p1, lo2.to_radians() - lo1.to_radians());
    let a = (dlat / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dlon / 2.0).sin().powi(2);
    let c = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    Ok(c * 6371.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).expect("valid time")
    }

    #[test]
    fn intervals() {
        let times = vec![
            t("2024-01-01T00:00:10Z"),
            t("2024-01-01T00:00:00Z"),
            t("2024-01-01T00:00:12Z"),
            t("2024-01-01T00:01:00Z"),
        ];
        assert_eq!(median_interval(times.clone()), Some(10_000_000_000));
        assert_eq!(average_interval(times), Some(20_000_000_000));
        let even = vec![
            t("2024-01-01T00:00:00Z"),
            t("2024-01-01T00:00:01Z"),
            t("2024-01-01T00:00:04Z"),
        ];
        assert_eq!(median_interval(even), Some(2_000_000_000));
        assert_eq!(median_interval(vec![t("2024-01-01T00:00:00Z")]), None);
    }

    #[test]
    fn distances() {
        let d = distance("-33.494", "143.2104", "37.751", "-97.822").expect("numbers");
        assert_eq!(d.trunc(), 14_576.0, "{d}");
        assert_eq!(distance("0", "0", "1", "1"), Ok(0.0));
        assert!(distance("x", "0", "1", "1").is_err());
    }

    #[test]
    fn unix() {
        assert_eq!(parse_unix("abc"), "");
        assert_eq!(parse_unix("-5"), "");
        assert!(!parse_unix("1700000000.123").is_empty());
    }
}
