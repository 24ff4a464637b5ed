//! `GeoIpCity`, `GeoIpASN` and `IpToRange` over the shared MaxMind readers.

use std::net::IpAddr;

use cs_expr_helpers::geoip::GeoIp;
use cs_types::StrMap;

/// Go's `net.ParseIP`: IPv4-mapped IPv6 addresses are IPv4.
fn parse_ip(s: &str) -> Option<IpAddr> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}

/// `GeoIpCity`: `IsoCode`, `IsInEU`, `Latitude`, `Longitude`. The country is the
/// located one, else the registered one, else the represented one; an IP without a
/// record gets the zero record, as Go's reader returns one.
pub(crate) fn city(geo: &GeoIp, value: &str, out: &mut StrMap) {
    let Some(rec) = parse_ip(value).and_then(|ip| geo.city(ip)) else {
        return;
    };
    let (iso, eu) = [
        (&rec.country_iso_code, rec.country_is_in_eu),
        (
            &rec.registered_country_iso_code,
            rec.registered_country_is_in_eu,
        ),
        (
            &rec.represented_country_iso_code,
            rec.represented_country_is_in_eu,
        ),
    ]
    .into_iter()
    .find(|(iso, _)| !iso.is_empty())
    .map_or(("", false), |(iso, eu)| (iso.as_str(), eu));
    out.insert("IsoCode".into(), iso.to_owned().into());
    out.insert("IsInEU".into(), eu.to_string().into());
    out.insert("Latitude".into(), format!("{:.6}", rec.latitude).into());
    out.insert("Longitude".into(), format!("{:.6}", rec.longitude).into());
}

/// `GeoIpASN`: `ASNNumber`, `ASNumber` (same value, `0` when unknown) and `ASNOrg`.
pub(crate) fn asn(geo: &GeoIp, value: &str, out: &mut StrMap) {
    let Some(rec) = parse_ip(value).and_then(|ip| geo.asn(ip)) else {
        return;
    };
    let number = rec.number.to_string();
    out.insert("ASNNumber".into(), number.clone().into());
    out.insert("ASNumber".into(), number.into());
    out.insert("ASNOrg".into(), rec.organization.into());
}

/// `IpToRange`: `SourceRange`, the network of the ASN database holding the IP.
pub(crate) fn range(geo: &GeoIp, value: &str, out: &mut StrMap) {
    if let Some(net) = parse_ip(value).and_then(|ip| geo.asn_network(ip)) {
        out.insert("SourceRange".into(), net.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn geo() -> GeoIp {
        let shared = std::env::var_os("CROWDSEC_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
            PathBuf::from,
        );
        GeoIp::open_data_dir(&shared.join("hub/mmdb-fixtures/crowdsec-test")).0
    }

    fn check(ip: &str, expected: &[(&str, &str)]) {
        let geo = geo();
        let mut out = StrMap::new();
        city(&geo, ip, &mut out);
        asn(&geo, ip, &mut out);
        range(&geo, ip, &mut out);
        let got: Vec<(&str, &str)> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, expected, "{ip}");
    }

    const FR: &[(&str, &str)] = &[
        ("ASNNumber", "4242"),
        ("ASNOrg", "Crowdsec"),
        ("ASNumber", "4242"),
        ("IsInEU", "true"),
        ("IsoCode", "FR"),
        ("Latitude", "46.000000"),
        ("Longitude", "2.000000"),
        ("SourceRange", "1.2.3.0/24"),
    ];

    #[test]
    fn lookups() {
        check("1.2.3.4", FR);
        check("::ffff:1.2.3.4", FR);
        check(
            "8.8.8.8",
            &[
                ("ASNNumber", "0"),
                ("ASNOrg", ""),
                ("ASNumber", "0"),
                ("IsInEU", "false"),
                ("IsoCode", ""),
                ("Latitude", "0.000000"),
                ("Longitude", "0.000000"),
            ],
        );
        check("not an ip", &[]);
    }

    #[test]
    fn no_database_no_output() {
        let mut out = StrMap::new();
        city(&GeoIp::empty(), "1.2.3.4", &mut out);
        asn(&GeoIp::empty(), "1.2.3.4", &mut out);
        assert!(out.is_empty());
    }
}
