//! A hot-swappable policy: requests read the current module without locking; a swap replaces
//! it atomically. A request that began on the old module finishes on it (it holds its own
//! reference), and the old module is kept for `rollback`.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use wardgate_policy::{Decision, Engine, Request};

use crate::LoadedModule;

#[derive(Debug)]
pub struct PolicyHandle {
    current: ArcSwap<LoadedModule>,
    previous: Mutex<Option<Arc<LoadedModule>>>,
}

/// `rollback` with nothing to roll back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("there is no previous policy module to roll back to")]
pub struct NoPrevious;

impl PolicyHandle {
    pub fn new(module: LoadedModule) -> Self {
        PolicyHandle {
            current: ArcSwap::from_pointee(module),
            previous: Mutex::new(None),
        }
    }

    /// The module in force now.
    pub fn current(&self) -> Arc<LoadedModule> {
        self.current.load_full()
    }

    /// Puts a new module in force; returns the one it replaced, which is kept for rollback.
    pub fn swap(&self, module: LoadedModule) -> Arc<LoadedModule> {
        let old = self.current.swap(Arc::new(module));
        if let Ok(mut prev) = self.previous.lock() {
            *prev = Some(old.clone());
        }
        old
    }

    /// The module kept for rollback, if any.
    pub fn previous(&self) -> Option<Arc<LoadedModule>> {
        self.previous.lock().ok().and_then(|p| p.clone())
    }

    /// Puts the previous module back in force; the current one becomes the previous.
    pub fn rollback(&self) -> Result<Arc<LoadedModule>, NoPrevious> {
        let mut prev = self.previous.lock().map_err(|_| NoPrevious)?;
        let back = prev.take().ok_or(NoPrevious)?;
        let replaced = self.current.swap(back.clone());
        *prev = Some(replaced);
        Ok(back)
    }

    /// Decides on the module in force when the call began.
    pub fn decide(&self, req: &Request) -> Decision {
        self.current().decide(req)
    }
}
