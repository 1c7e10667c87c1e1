//! One interface for every way of deciding: the reference evaluator and compiled components
//! implement it, and differential tests hold them to the same answers.

use crate::manifest::Manifest;
use crate::raw::RawDecision;
use crate::request::{Decision, Prepared, Reason, Request};
use crate::Policy;

/// An engine could not decide (a trap, a timeout, a malformed result). The request is denied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EngineFault(pub String);

pub trait Engine {
    /// The symbols the engine decides over.
    fn manifest(&self) -> &Manifest;

    /// Decides a prepared request.
    fn decide_raw(&self, p: &Prepared) -> Result<RawDecision, EngineFault>;

    /// Prepares, decides and renders; anything that goes wrong is a deny.
    fn decide(&self, req: &Request) -> Decision {
        let p = match self.manifest().prepare(req) {
            Ok(p) => p,
            Err(e) => {
                return Decision::deny(Reason::new(
                    crate::ReasonCode::InvalidRequest,
                    e.to_string(),
                ))
            }
        };
        match self.decide_raw(&p) {
            Ok(raw) => self.manifest().render(&raw, &p),
            Err(fault) => Decision::deny(Reason::new(
                crate::ReasonCode::EngineFault,
                fault.to_string(),
            )),
        }
    }
}

impl Engine for Policy {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn decide_raw(&self, p: &Prepared) -> Result<RawDecision, EngineFault> {
        Ok(Policy::decide_raw(self, p))
    }
}
