//! Encoding of `GET /v1/decisions/stream` bodies, the hottest answer of the LAPI (every bouncer polls it).

use chrono::{DateTime, Utc};
use cs_store::DecisionRecord;

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
