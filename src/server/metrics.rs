//! Prometheus metrics of the server: requests by route and status, latency histograms,
//! tokens in and out, queue depth, generations in flight, active sessions.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub ttft: HistogramVec,
    pub tokens_in: IntCounter,
    pub tokens_out: IntCounter,
    pub queue_depth: IntGauge,
    pub in_flight: IntGauge,
    pub active_sessions: IntGauge,
    pub rejected: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("bullpen".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )?;
        let buckets = vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to the response headers, by route")
                .buckets(buckets.clone()),
            &["route"],
        )?;
        let ttft = HistogramVec::new(
            HistogramOpts::new(
                "time_to_first_token_seconds",
                "Time to the first streamed token, by kind (model, agent)",
            )
            .buckets(buckets),
            &["kind"],
        )?;
        let tokens_in = IntCounter::new("prompt_tokens_total", "Prompt tokens processed")?;
        let tokens_out = IntCounter::new("completion_tokens_total", "Completion tokens generated")?;
        let queue_depth = IntGauge::new("queue_depth", "Chat requests waiting for a generation slot")?;
        let in_flight = IntGauge::new("generations_in_flight", "Chat requests being generated")?;
        let active_sessions = IntGauge::new("sessions", "Stored chat sessions")?;
        let rejected =
            IntCounterVec::new(Opts::new("rejected_total", "Requests refused, by reason"), &["reason"])?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(ttft.clone()),
            Box::new(tokens_in.clone()),
            Box::new(tokens_out.clone()),
            Box::new(queue_depth.clone()),
            Box::new(in_flight.clone()),
            Box::new(active_sessions.clone()),
            Box::new(rejected.clone()),
        ] {
            registry.register(c)?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            ttft,
            tokens_in,
            tokens_out,
            queue_depth,
            in_flight,
            active_sessions,
            rejected,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn usage(&self, u: crate::llm::Usage) {
        self.tokens_in.inc_by(u64::from(u.prompt_tokens));
        self.tokens_out.inc_by(u64::from(u.completion_tokens));
    }
}
