//! Prometheus metrics, served on the admin listener.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    pub decision: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabel {
    pub channel: &'static str,
    pub result: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<StatusLabel, Counter>,
    pub decisions: Family<DecisionLabel, Counter>,
    pub rate_limited: Counter,
    pub swaps: Family<ResultLabel, Counter>,
    pub upstream_errors: Family<ResultLabel, Counter>,
    /// Alerts raised (binding mismatches, emergency access).
    pub alerts: Family<ResultLabel, Counter>,
    /// Outbox deliveries (mail, webhook) by result: sent, retry, failed.
    pub deliveries: Family<DeliveryLabel, Counter>,
    /// Whole requests, from the first byte read to the response headers.
    pub request_seconds: Histogram,
    /// The checks before forwarding (addresses, key, limit, route, decision, audit).
    pub pipeline_seconds: Histogram,
    /// The policy module's call.
    pub decision_seconds: Histogram,
    pub connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("wardgate");
        let requests = Family::default();
        let decisions = Family::default();
        let rate_limited = Counter::default();
        let swaps = Family::default();
        let upstream_errors = Family::default();
        let alerts = Family::default();
        let deliveries = Family::default();
        // 1 us .. ~33 s
        let request_seconds = Histogram::new(exponential_buckets(1e-6, 2.0, 26));
        let pipeline_seconds = Histogram::new(exponential_buckets(1e-6, 2.0, 20));
        let decision_seconds = Histogram::new(exponential_buckets(1e-7, 2.0, 20));
        let connections = Gauge::default();
        registry.register("requests", "Requests answered, by status", requests.clone());
        registry.register(
            "decisions",
            "Decisions, by verdict and the first reason code",
            decisions.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        registry.register(
            "policy_swaps",
            "Policy module swaps and rollbacks, by result",
            swaps.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream failures, by kind",
            upstream_errors.clone(),
        );
        registry.register("alerts", "Alerts raised, by kind", alerts.clone());
        registry.register(
            "deliveries",
            "Outbox deliveries, by channel and result",
            deliveries.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to response headers",
            request_seconds.clone(),
        );
        registry.register(
            "pipeline_duration_seconds",
            "Time spent in the gateway's checks before forwarding",
            pipeline_seconds.clone(),
        );
        registry.register(
            "decision_duration_seconds",
            "Time spent in the policy module",
            decision_seconds.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections open",
            connections.clone(),
        );
        Metrics {
            registry,
            requests,
            decisions,
            rate_limited,
            swaps,
            upstream_errors,
            alerts,
            deliveries,
            request_seconds,
            pipeline_seconds,
            decision_seconds,
            connections,
        }
    }

    /// One delivery attempt of the outbox.
    pub fn delivered(&self, channel: &'static str, result: &'static str) {
        self.deliveries
            .get_or_create(&DeliveryLabel { channel, result })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
