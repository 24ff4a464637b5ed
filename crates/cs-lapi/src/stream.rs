//! Encoding of `GET /v1/decisions/stream` bodies, the hottest answer of the LAPI (every bouncer polls it).

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cs_store::{DecisionFilter, DecisionRecord, Store};
use tokio::sync::mpsc;

/// Rows per batch read from the store for a streamed answer.
const STREAM_BATCH: usize = 2048;
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
            buf: Vec::with_capacity(STREAM_CHUNK + 4096),
            tx,
        };
        out.buf.extend_from_slice(b"{\"deleted\":");
        let deleted = store.decision_batches(&filter, true, now, dedup, STREAM_BATCH);
        if !out.list(deleted, now).await {
            return;
        }
        out.buf.extend_from_slice(b",\"new\":");
        let new = store.decision_batches(&filter, false, now, dedup, STREAM_BATCH);
        if !out.list(new, now).await {
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
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(STREAM_CHUNK + 4096),
        ));
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    /// Writes one list (`null` when empty); `false` when the answer must stop.
    async fn list(
        &mut self,
        mut batches: mpsc::Receiver<cs_store::Result<Vec<DecisionRecord>>>,
        now: DateTime<Utc>,
    ) -> bool {
        let mut first = true;
        while let Some(batch) = batches.recv().await {
            let records = match batch {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!(error = %e, "database request failed while streaming decisions");
                    let _ = self
                        .tx
                        .send(Err(std::io::Error::other("database error")))
                        .await;
                    return false;
                }
            };
            for r in &records {
                self.buf.push(if first { b'[' } else { b',' });
                first = false;
                write_decision(&mut self.buf, r, now);
            }
            if self.buf.len() >= STREAM_CHUNK && !self.flush().await {
                return false;
            }
        }
        self.buf
            .extend_from_slice(if first { b"null" } else { b"]" });
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
        write_decision(out, r, now);
    }
    out.push(b']');
}

/// One decision, keys in the Go encoder's (alphabetical) order; `uuid` only when set.
fn write_decision(out: &mut Vec<u8>, r: &DecisionRecord, now: DateTime<Utc>) {
    out.extend_from_slice(b"{\"duration\":\"");
    // Go duration strings contain only ASCII digits, letters, '.', '-' and 'µ': nothing to escape.
    out.extend_from_slice(cs_models::format_duration(r.remaining_ns(now)).as_bytes());
    out.extend_from_slice(b"\"");
    if r.id != 0 {
        out.extend_from_slice(b",\"id\":");
        out.extend_from_slice(r.id.to_string().as_bytes());
    }
    write_field(out, "origin", &r.origin);
    write_field(out, "scenario", &r.scenario);
    write_field(out, "scope", &r.scope);
    write_field(out, "type", &r.decision_type);
    if !r.uuid.is_empty() {
        write_field(out, "uuid", &r.uuid);
    }
    write_field(out, "value", &r.value);
    out.push(b'}');
}

fn write_field(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
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
