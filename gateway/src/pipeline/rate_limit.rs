//! Step 5: the rate of a key (its own, or the default) or of a session.

use super::Who;
use crate::ratelimit::{Admit, RateLimits};
use crate::reject::Rejection;

pub(super) fn check(limits: &RateLimits, who: &Who, session_rate: u32) -> Result<Admit, Rejection> {
    let admit = match who {
        Who::Key(key) => limits.check(&key.id, key.rate_per_minute),
        Who::Session(s) => limits.check(&format!("session:{}", s.info.id), Some(session_rate)),
    };
    match admit {
        pass @ Admit::Pass { .. } => Ok(pass),
        Admit::Limited { limit, retry_after } => Err(Rejection::RateLimited { limit, retry_after }),
    }
}
