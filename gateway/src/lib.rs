//! Wardgate: an authorization gateway for medical-practice software. A TLS reverse proxy that
//! checks every request (network rules, countries, API keys, rate limits, the compiled policy)
//! before it reaches a practice app, audits every decision, and swaps policies while running.

pub mod admin;
pub mod alerts;
pub mod api;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod geo;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod net;
pub mod next;
pub mod pages;
pub mod path;
pub mod pipeline;
pub mod proxy;
pub mod ratelimit;
pub mod redact;
pub mod reject;
pub mod respond;
pub mod server;
pub mod session;
pub mod signins;
pub mod state;
pub mod swap;
pub mod tls;
mod upkeep;

pub use clock::Clock;
pub use config::Config;
pub use server::{start, Running};
pub use state::{Gateway, StartError};
