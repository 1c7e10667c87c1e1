//! Countries of client addresses, from a MaxMind database (GeoIP2/GeoLite2 Country or City).

use std::net::IpAddr;

use maxminddb::{PathElement, Reader};

use crate::config::{CountryCode, Geo as GeoConfig, UnknownCountry};

pub struct Geo {
    reader: Reader<Vec<u8>>,
    allow: Vec<CountryCode>,
    block: Vec<CountryCode>,
    unknown: UnknownCountry,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("allow", &self.allow)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

/// What the geo rules say about a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass(Option<CountryCode>),
    Blocked(Option<CountryCode>),
}

impl Geo {
    pub fn open(config: &GeoConfig) -> Result<Geo, String> {
        Geo::from_bytes(
            std::fs::read(&config.database)
                .map_err(|e| format!("{}: {e}", config.database.display()))?,
            config,
        )
        .map_err(|e| format!("{}: {e}", config.database.display()))
    }

    pub fn from_bytes(bytes: Vec<u8>, config: &GeoConfig) -> Result<Geo, String> {
        let reader =
            Reader::from_source(bytes).map_err(|e| format!("not a MaxMind database: {e}"))?;
        Ok(Geo {
            reader,
            allow: config.allow_countries.clone(),
            block: config.block_countries.clone(),
            unknown: config.unknown,
        })
    }

    /// The country of an address, when the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        // Only the code is read: decoding the whole record (names in every language) per
        // request would cost more than the lookup.
        let found = self.reader.lookup(ip).ok()?;
        let code: &str = found
            .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
            .ok()??;
        code.parse().ok()
    }

    pub fn check(&self, ip: IpAddr) -> Verdict {
        let country = self.country(ip);
        let blocked = match country {
            None => self.unknown == UnknownCountry::Deny,
            Some(c) => {
                self.block.contains(&c) || (!self.allow.is_empty() && !self.allow.contains(&c))
            }
        };
        if blocked {
            Verdict::Blocked(country)
        } else {
            Verdict::Pass(country)
        }
    }
}

/// MaxMind's test database (see `testdata/geoip/README.md`), for the demo and the tests.
pub const TEST_DATABASE: &[u8] = include_bytes!("../testdata/geoip/GeoIP2-Country-Test.mmdb");

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(allow: &[&str], block: &[&str], unknown: UnknownCountry) -> Geo {
        let config = GeoConfig {
            database: "test".into(),
            allow_countries: allow.iter().map(|c| c.parse().unwrap()).collect(),
            block_countries: block.iter().map(|c| c.parse().unwrap()).collect(),
            unknown,
        };
        Geo::from_bytes(TEST_DATABASE.to_vec(), &config).unwrap()
    }

    #[test]
    fn the_test_database_places_its_documented_addresses() {
        let g = geo(&[], &[], UnknownCountry::Allow);
        let at = |ip: &str| g.country(ip.parse().unwrap()).map(|c| c.to_string());
        assert_eq!(at("81.2.69.142").as_deref(), Some("GB"));
        assert_eq!(at("216.160.83.56").as_deref(), Some("US"));
        assert_eq!(at("89.160.20.112").as_deref(), Some("SE"));
        assert_eq!(at("::ffff:81.2.69.142").as_deref(), Some("GB"));
        assert_eq!(at("127.0.0.1"), None);
    }

    #[test]
    fn allow_block_and_unknown() {
        let us_only = geo(&["US"], &[], UnknownCountry::Allow);
        assert!(matches!(
            us_only.check("216.160.83.56".parse().unwrap()),
            Verdict::Pass(Some(_))
        ));
        assert!(matches!(
            us_only.check("81.2.69.142".parse().unwrap()),
            Verdict::Blocked(Some(_))
        ));
        assert_eq!(
            us_only.check("127.0.0.1".parse().unwrap()),
            Verdict::Pass(None)
        );
        let strict = geo(&[], &["SE"], UnknownCountry::Deny);
        assert_eq!(
            strict.check("127.0.0.1".parse().unwrap()),
            Verdict::Blocked(None)
        );
        assert!(matches!(
            strict.check("89.160.20.112".parse().unwrap()),
            Verdict::Blocked(Some(_))
        ));
        assert!(matches!(
            strict.check("81.2.69.142".parse().unwrap()),
            Verdict::Pass(Some(_))
        ));
    }
}
