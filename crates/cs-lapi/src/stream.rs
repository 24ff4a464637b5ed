//! Encoding of `GET /v1/decisions/stream` bodies, the hottest answer of the LAPI (every bouncer polls it).

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cs_store::{DecisionFilter, DecisionRecord, DecisionRow, Store};
use tokio::sync::mpsc;

/// Bytes per chunk of a streamed answer.
const STREAM_CHUNK: usize = 256 * 1024;

/// Encodes `{"deleted":[...],"new":[...]}` with each decision's remaining time at `now`; empty lists are
/// `null`, as the 1.4.6 LAPI writes them (see COMPAT.md).
///
/// The bytes are those of serializing `cs_models::DecisionsStreamResponse` built with
/// `DecisionRecord::to_bouncer_model`, written directly to avoid one owned model per decision.
#[must_use]
pub fn encode(new: &[DecisionRecord], deleted: &[DecisionRecord], now: DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + (new.len() + deleted.len()) * 200);
    out.extend_from_slice(b"{\"deleted\":");
    write_list(&mut out, deleted, now);
    out.extend_from_slice(b",\"new\":");
    write_list(&mut out, new, now);
    out.push(b'}');
    out
}

/// The startup answer (`deleted` = every expired decision, `new` = every active one) written while the
/// store reads it: the body is sent in chunks as rows arrive, so a million decisions never sit in memory
/// at once. Same bytes as [`encode`]; the framing is chunked (1.4.6 also chunks answers this large). A
/// database error in the middle aborts the body (the bouncer sees a truncated answer and retries).
pub(crate) fn startup_response(
    store: Store,
    filter: DecisionFilter,
    dedup: bool,
    now: DateTime<Utc>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut out = Chunked {
            buf: Vec::with_capacity(STREAM_CHUNK),
            tx,
        };
        out.buf.extend_from_slice(b"{\"deleted\":");
        if !out.list(&store, &filter, true, dedup, now).await {
            return;
        }
        out.buf.extend_from_slice(b",\"new\":");
        if !out.list(&store, &filter, false, dedup, now).await {
            return;
        }
        out.buf.push(b'}');
        out.flush().await;
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut resp = (StatusCode::OK, Body::from_stream(chunks)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::error::JSON_CONTENT_TYPE),
    );
    resp
}

/// Body under construction, sent to the client chunk by chunk.
struct Chunked {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Chunked {
    /// Sends the buffer; `false` when the client is gone.
    async fn flush(&mut self) -> bool {
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    /// Writes the list of expired (`expired`) or active decisions (`null` when empty); `false` when
    /// the answer must stop.
    async fn list(
        &mut self,
        store: &Store,
        filter: &DecisionFilter,
        expired: bool,
        dedup: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let mut first = true;
        let mut chunks =
            store.encoded_decisions(filter, expired, now, dedup, STREAM_CHUNK, move |out, d| {
                out.push(if first { b'[' } else { b',' });
                first = false;
                write_decision(out, d, now);
            });
        // The store sends no chunk for an empty list.
        let mut empty = true;
        while let Some(chunk) = chunks.recv().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::error!(error = %e, "database request failed while streaming decisions");
                    let _ = self
                        .tx
                        .send(Err(std::io::Error::other("database error")))
                        .await;
                    return false;
                }
            };
            empty = false;
            if self.buf.is_empty() {
                self.buf = chunk;
            } else {
                self.buf.extend_from_slice(&chunk);
            }
            if self.buf.len() >= STREAM_CHUNK && !self.flush().await {
                return false;
            }
        }
        self.buf
            .extend_from_slice(if empty { b"null" } else { b"]" });
        true
    }
}

fn write_list(out: &mut Vec<u8>, records: &[DecisionRecord], now: DateTime<Utc>) {
    if records.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_decision(out, &r.as_row(), now);
    }
    out.push(b']');
}

/// One decision, keys in the Go encoder's (alphabetical) order; `uuid` only when set.
fn write_decision(out: &mut Vec<u8>, d: &DecisionRow<'_>, now: DateTime<Utc>) {
    out.extend_from_slice(b"{\"duration\":\"");
    // Go duration strings contain only ASCII digits, letters, '.', '-' and 'µ': nothing to escape.
    write_duration(out, d.remaining_ns(now));
    out.extend_from_slice(b"\"");
    if d.id != 0 {
        out.extend_from_slice(b",\"id\":");
        if d.id < 0 {
            out.push(b'-');
        }
        write_uint(out, d.id.unsigned_abs());
    }
    write_field(out, "origin", d.origin);
    write_field(out, "scenario", d.scenario);
    write_field(out, "scope", d.scope);
    write_field(out, "type", d.decision_type);
    if !d.uuid.is_empty() {
        write_field(out, "uuid", d.uuid);
    }
    write_field(out, "value", d.value);
    out.push(b'}');
}

fn write_field(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Writes `nanos` as `cs_models::format_duration` does (Go's `Duration.String`), without building
/// intermediate strings: this runs once per decision of a startup answer.
fn write_duration(out: &mut Vec<u8>, nanos: i64) {
    let u = nanos.unsigned_abs();
    if u == 0 {
        out.extend_from_slice(b"0s");
        return;
    }
    if nanos < 0 {
        out.push(b'-');
    }
    if u < NANOS_PER_SEC {
        // Sub-second durations use the largest unit that keeps a non-zero integer part.
        let (prec, unit) = match u {
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let div = 10u64.pow(prec);
        write_uint(out, u / div);
        write_fraction(out, u % div, prec);
        out.extend_from_slice(unit.as_bytes());
        return;
    }
    let secs = u / NANOS_PER_SEC;
    let mins = secs / 60;
    if mins > 0 {
        let hours = mins / 60;
        if hours > 0 {
            write_uint(out, hours);
            out.push(b'h');
        }
        write_uint(out, mins % 60);
        out.push(b'm');
    }
    write_uint(out, secs % 60);
    write_fraction(out, u % NANOS_PER_SEC, 9);
    out.push(b's');
}

/// Writes `.ddd` for the `prec`-digit fraction `frac`, trailing zeros removed; nothing when zero.
fn write_fraction(out: &mut Vec<u8>, mut frac: u64, mut prec: u32) {
    if frac == 0 {
        return;
    }
    while frac.is_multiple_of(10) {
        frac /= 10;
        prec -= 1;
    }
    out.push(b'.');
    let mut digits = [b'0'; 20];
    let start = digits.len() - prec as usize;
    for d in digits[start..].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&digits[start..]);
}

/// Writes `v` in decimal.
fn write_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, value: &str, until: DateTime<Utc>) -> DecisionRecord {
        DecisionRecord {
            id,
            created_at: until,
            until,
            scenario: "bench manual ban".into(),
            decision_type: "ban".into(),
            scope: "Ip".into(),
            value: value.into(),
            origin: "cscli".into(),
            simulated: false,
            uuid: "u".into(),
            alert_id: 1,
        }
    }

    #[test]
    fn encodes_like_the_reference_capture() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T09:50:41Z")
            .unwrap()
            .to_utc();
        let until = now + chrono::TimeDelta::milliseconds(14_397_916);
        let body = encode(&[record(3, "192.0.2.1", until)], &[], now);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"deleted":null,"new":[{"duration":"3h59m57.916s","id":3,"origin":"cscli","scenario":"bench manual ban","scope":"Ip","type":"ban","uuid":"u","value":"192.0.2.1"}]}"#
        );
        let gone = encode(
            &[],
            &[record(
                1,
                "192.0.2.1",
                now - chrono::TimeDelta::milliseconds(576),
            )],
            now,
        );
        assert!(
            String::from_utf8(gone)
                .unwrap()
                .contains(r#""duration":"-576ms""#)
        );
        assert_eq!(encode(&[], &[], now), br#"{"deleted":null,"new":null}"#);
    }

    #[test]
    fn durations_are_written_as_go_formats_them() {
        let mut values = vec![0, 1, -1, 999, 1_000, 1_500, 999_999, 1_000_000, 1_000_001];
        values.extend([i64::MIN, i64::MAX, i64::MIN + 1, -i64::MAX]);
        let mut unit = 1i64;
        for _ in 0..19 {
            for k in [1, 2, 5, 9, 10, 59, 60, 61, 3_599, 3_600, 86_400] {
                if let Some(v) = unit.checked_mul(k) {
                    values.extend([v, -v, v.saturating_add(1), v.saturating_sub(1)]);
                }
            }
            unit = unit.saturating_mul(10);
        }
        // And a deterministic spread over every magnitude.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x as i64) >> (x % 63));
        }
        for v in values {
            let mut out = Vec::new();
            write_duration(&mut out, v);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                cs_models::format_duration(v),
                "{v}"
            );
        }
    }

    #[tokio::test]
    async fn startup_answer_is_the_encoded_lists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&cs_store::StoreConfig::sqlite(dir.path().join("s.db")))
            .await
            .unwrap();
        let now = Utc::now();
        let ban = |i: u32, duration: &str| cs_models::Decision {
            duration: Some(duration.into()),
            origin: Some("cscli".into()),
            scenario: Some(format!("ban \"{i}\" é")),
            scope: Some(if i.is_multiple_of(10) { "Range" } else { "Ip" }.into()),
            r#type: Some("ban".into()),
            value: Some(if i.is_multiple_of(10) {
                format!("10.{}.0.0/16", i % 256)
            } else {
                format!("10.0.{}.{}", i / 256 % 256, i % 256)
            }),
            ..cs_models::Decision::default()
        };
        let alert = |decisions, at: DateTime<Utc>| cs_models::Alert {
            decisions: Some(decisions),
            scenario: Some("bulk".into()),
            source: Some(cs_models::Source {
                scope: Some("Ip".into()),
                value: Some("10.0.0.1".into()),
                ..cs_models::Source::default()
            }),
            start_at: Some(at.to_rfc3339()),
            stop_at: Some(at.to_rfc3339()),
            ..cs_models::Alert::default()
        };
        // Enough active decisions for several chunks, expired ones, and values banned twice.
        let active: Vec<_> = (0..4000).map(|i| ban(i, "4h")).collect();
        let expired: Vec<_> = (3900..4100).map(|i| ban(i, "1h")).collect();
        store
            .create_alerts(
                None,
                &[
                    alert(expired, now - chrono::TimeDelta::hours(2)),
                    alert(active, now),
                ],
            )
            .await
            .unwrap();
        for query in [&[][..], &[("scopes", "ip"), ("dedup", "false")][..]] {
            let query: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let q = cs_store::StreamQuery::from_query(&query).unwrap();
            let new = store
                .list_active_decisions(&q.filter, now, q.dedup)
                .await
                .unwrap();
            let deleted = store
                .list_expired_decisions(&q.filter, None, now, q.dedup)
                .await
                .unwrap();
            assert!(new.len() > 3000 && !deleted.is_empty());
            let expected = encode(&new, &deleted, now);
            assert!(expected.len() > 2 * STREAM_CHUNK);
            let resp = startup_response(store.clone(), q.filter, q.dedup, now);
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            assert!(body[..] == expected[..], "{query:?}");
        }
    }

    #[test]
    fn matches_the_serde_model_byte_for_byte() {
        let now = Utc::now();
        let mut odd = record(
            7,
            "quote\" back\\ é \u{1}",
            now + chrono::TimeDelta::nanoseconds(1_500),
        );
        odd.scenario = "<script>&".into();
        odd.uuid.clear();
        let records = [
            record(1, "2001:db8::1", now - chrono::TimeDelta::days(400)),
            odd,
        ];
        let models =
            |rs: &[DecisionRecord]| rs.iter().map(|r| r.to_bouncer_model(now, true)).collect();
        for (new, deleted) in [
            (&records[..], &records[..1]),
            (&records[..0], &records[..]),
            (&records[..], &records[..0]),
        ] {
            let expected =
                cs_models::DecisionsStreamResponse::from_lists(models(new), models(deleted));
            assert_eq!(
                String::from_utf8(encode(new, deleted, now)).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
        }
    }
}
