//! GeoIP lookups over MaxMind databases (`GeoLite2-City.mmdb`, `GeoLite2-ASN.mmdb` in the data
//! directory), shared by the `GeoIP*Enrich` helpers and the parser's GeoIP enrichers.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{Reader, geoip2};

use crate::error::{Error, Result};

/// The fields of a City record that CrowdSec reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CityRecord {
    /// City name in English.
    pub city_name: String,
    /// Continent code (`EU`).
    pub continent_code: String,
    /// Country ISO code.
    pub country_iso_code: String,
    /// Whether the country is in the European Union.
    pub country_is_in_eu: bool,
    /// Registered country ISO code.
    pub registered_country_iso_code: String,
    /// Whether the registered country is in the European Union.
    pub registered_country_is_in_eu: bool,
    /// Represented country ISO code.
    pub represented_country_iso_code: String,
    /// Whether the represented country is in the European Union.
    pub represented_country_is_in_eu: bool,
    /// Latitude (0 when unknown).
    pub latitude: f64,
    /// Longitude (0 when unknown).
    pub longitude: f64,
    /// Accuracy radius in km.
    pub accuracy_radius: u16,
    /// IANA time zone.
    pub time_zone: String,
    /// Postal code.
    pub postal_code: String,
}

impl CityRecord {
    /// The country code the `GeoIpCity` enricher reports: the country, else the registered
    /// country, else the represented country.
    pub fn iso_code(&self) -> &str {
        [
            &self.country_iso_code,
            &self.registered_country_iso_code,
            &self.represented_country_iso_code,
        ]
        .into_iter()
        .find(|c| !c.is_empty())
        .map_or("", String::as_str)
    }

    /// `IsInEU` of the country chosen by [`CityRecord::iso_code`].
    pub fn is_in_eu(&self) -> bool {
        if !self.country_iso_code.is_empty() {
            self.country_is_in_eu
        } else if !self.registered_country_iso_code.is_empty() {
            self.registered_country_is_in_eu
        } else {
            self.represented_country_is_in_eu
        }
    }
}

/// An ASN record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsnRecord {
    /// Autonomous system number (0 when unknown).
    pub number: u32,
    /// Organisation name.
    pub organization: String,
}

/// Open GeoIP databases (either may be missing).
#[derive(Default)]
pub struct GeoIp {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("city", &self.city.is_some())
            .field("asn", &self.asn.is_some())
            .finish()
    }
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>> {
    Reader::open_readfile(path).map_err(|source| Error::GeoIp {
        path: path.to_owned(),
        source,
    })
}

impl GeoIp {
    /// No database: every lookup finds nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Open the databases at the given paths.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Self> {
        Ok(Self {
            city: city.map(open).transpose()?,
            asn: asn.map(open).transpose()?,
        })
    }

    /// Open `GeoLite2-City.mmdb` and `GeoLite2-ASN.mmdb` from `data_dir`, as upstream does at
    /// startup. A missing or unreadable database is reported in the returned errors and left
    /// out (upstream only warns).
    pub fn open_data_dir(data_dir: &Path) -> (Self, Vec<Error>) {
        let mut errors = Vec::new();
        let mut try_open = |name: &str| {
            let path: PathBuf = data_dir.join(name);
            open(&path).map_err(|e| errors.push(e)).ok()
        };
        let city = try_open("GeoLite2-City.mmdb");
        let asn = try_open("GeoLite2-ASN.mmdb");
        (Self { city, asn }, errors)
    }

    /// True when the City database is open.
    pub fn has_city(&self) -> bool {
        self.city.is_some()
    }

    /// True when the ASN database is open.
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// City record of `ip`: `None` without a database, the empty record when the IP is not in
    /// it (Go's reader returns a zero record then).
    pub fn city(&self, ip: IpAddr) -> Option<CityRecord> {
        let reader = self.city.as_ref()?;
        let found = reader.lookup(ip).ok()?;
        let Ok(Some(rec)) = found.decode::<geoip2::City>() else {
            return Some(CityRecord::default());
        };
        let s = |v: Option<&str>| v.unwrap_or("").to_owned();
        Some(CityRecord {
            city_name: s(rec.city.names.english),
            continent_code: s(rec.continent.code),
            country_iso_code: s(rec.country.iso_code),
            country_is_in_eu: rec.country.is_in_european_union.unwrap_or(false),
            registered_country_iso_code: s(rec.registered_country.iso_code),
            registered_country_is_in_eu: rec
                .registered_country
                .is_in_european_union
                .unwrap_or(false),
            represented_country_iso_code: s(rec.represented_country.iso_code),
            represented_country_is_in_eu: rec
                .represented_country
                .is_in_european_union
                .unwrap_or(false),
            latitude: rec.location.latitude.unwrap_or(0.0),
            longitude: rec.location.longitude.unwrap_or(0.0),
            accuracy_radius: rec.location.accuracy_radius.unwrap_or(0),
            time_zone: s(rec.location.time_zone),
            postal_code: s(rec.postal.code),
        })
    }

    /// ASN record of `ip`: `None` without a database, a zero record when not found.
    pub fn asn(&self, ip: IpAddr) -> Option<AsnRecord> {
        let reader = self.asn.as_ref()?;
        let found = reader.lookup(ip).ok()?;
        let Ok(Some(rec)) = found.decode::<geoip2::Asn>() else {
            return Some(AsnRecord::default());
        };
        Some(AsnRecord {
            number: rec.autonomous_system_number.unwrap_or(0),
            organization: rec.autonomous_system_organization.unwrap_or("").to_owned(),
        })
    }

    /// The network of the ASN database that holds `ip` (`IpToRange` enricher,
    /// `GeoIPRangeEnrich`), in CIDR text; `None` when the IP has no record.
    pub fn asn_network(&self, ip: IpAddr) -> Option<String> {
        let reader = self.asn.as_ref()?;
        let found = reader.lookup(ip).ok()?;
        if !found.has_data() {
            return None;
        }
        found.network().ok().map(|n| n.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(dir: &str) -> GeoIp {
        let (geo, errors) = GeoIp::open_data_dir(&crate::shared_dir().join(dir));
        assert!(errors.is_empty(), "{errors:?}");
        geo
    }

    #[test]
    fn crowdsec_test_fixture() {
        let geo = fixtures("hub/mmdb-fixtures/crowdsec-test");
        let ip: IpAddr = "1.2.3.4".parse().expect("ip");
        let city = geo.city(ip).expect("db open");
        assert_eq!(city.iso_code(), "FR");
        assert!(city.is_in_eu());
        assert_eq!((city.latitude, city.longitude), (46.0, 2.0));
        let asn = geo.asn(ip).expect("db open");
        assert_eq!(
            asn,
            AsnRecord {
                number: 4242,
                organization: "Crowdsec".to_owned()
            }
        );
        assert_eq!(geo.asn_network(ip).as_deref(), Some("1.2.3.0/24"));
        let other: IpAddr = "8.8.8.8".parse().expect("ip");
        assert_eq!(geo.asn(other), Some(AsnRecord::default()));
        assert_eq!(geo.asn_network(other), None);
        assert_eq!(geo.city(other), Some(CityRecord::default()));
    }

    #[test]
    fn upstream_fixture_and_missing() {
        let geo = fixtures("upstream-testdata/parser");
        assert!(geo.has_city() && geo.has_asn());
        let (none, errors) = GeoIp::open_data_dir(Path::new("/nonexistent-dir"));
        assert_eq!(errors.len(), 2);
        assert_eq!(none.city("1.2.3.4".parse().expect("ip")), None);
    }
}
