//! Step 3: the client's country, from the geo database, against the allowed or blocked ones.

use std::net::IpAddr;

use crate::config::CountryCode;
use crate::geo::{Geo, Verdict};
use crate::reject::Rejection;

pub(super) fn check(geo: Option<&Geo>, client: IpAddr) -> Result<Option<CountryCode>, Rejection> {
    match geo.map(|g| g.check(client)) {
        None => Ok(None),
        Some(Verdict::Pass(country)) => Ok(country),
        Some(Verdict::Blocked(_)) => Err(Rejection::Country),
    }
}
