//! Step 3: the global allow and deny lists.

use std::net::IpAddr;

use crate::config::NetworkRules;
use crate::reject::Rejection;

pub(super) fn check(rules: &NetworkRules, client: IpAddr) -> Result<(), Rejection> {
    match rules.refuses(client) {
        Some(_) => Err(Rejection::Network),
        None => Ok(()),
    }
}
