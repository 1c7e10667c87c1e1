//! Wardgate: an authorization gateway for medical-practice software.
//!
//! This crate holds the command line; the gateway pipeline joins it as it is built.

pub mod cli;
