//! What the store keeps in memory between lookups: keys and sessions already seen, and the
//! uses not yet written. Each is emptied when the database's version changes.

use std::collections::HashMap;

use crate::model::{KeyInfo, SessionInfo};

/// Keys already seen, with their uses not yet written. Emptied whenever the database changes
/// (a revocation from another process takes effect on the next lookup).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    pub(crate) version: Option<(i64, u64)>,
    pub(crate) keys: HashMap<String, (String, KeyInfo)>,
    /// Uses since the last flush: (count, last time).
    pub(crate) pending: HashMap<String, (u64, String)>,
}

/// Live sessions already looked up, and when they were last seen (written in batches).
#[derive(Debug, Default)]
pub(crate) struct SessionCache {
    pub(crate) version: Option<(i64, u64)>,
    pub(crate) live: HashMap<String, SessionInfo>,
    pub(crate) seen: HashMap<String, String>,
}
