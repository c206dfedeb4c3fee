//! What the server counts, in the Prometheus text format (`--metrics-listen`, `GET /metrics`).
//!
//! Every metric is an atomic bumped where the event happens; nothing here takes a lock on the
//! message path. Counters get Prometheus' `_total` suffix when encoded.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::time::Duration;

/// A WebSocket session's state.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum SessionState {
    /// Upgraded, waiting for `auth`.
    Authenticating,
    /// Authenticated.
    Open,
}

/// How the store answered a send.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum SendResult {
    Stored,
    /// A resend of a stored id (idempotency at work).
    Duplicate,
    /// Refused for order (`resend_required`) or a reused id.
    Refused,
    /// The database failed (`storage_failed`).
    Failed,
}

/// What the store was timed doing.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum StoreOp {
    /// Queue to durable outcome of a send.
    Send,
    /// A batch of a replay or a catch-up.
    Replay,
    History,
    Search,
}

/// Why a sign-in or a connection's authentication was refused.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum AuthFailure {
    /// Wrong username or password.
    Password,
    /// Unknown, expired or revoked access token.
    Token,
    /// A spent refresh token, or an unknown one.
    Refresh,
    /// The account is disabled.
    Disabled,
}

/// Label values in lower case, as Prometheus convention has them (the derive keeps the
/// variant's case).
macro_rules! label_values {
    ($($ty:ident { $($variant:ident => $text:literal),+ $(,)? })+) => {$(
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
                encoder.write_str(match self { $($ty::$variant => $text),+ })
            }
        }
    )+};
}

label_values! {
    SessionState { Authenticating => "authenticating", Open => "open" }
    SendResult { Stored => "stored", Duplicate => "duplicate", Refused => "refused", Failed => "failed" }
    StoreOp { Send => "send", Replay => "replay", History => "history", Search => "search" }
    AuthFailure { Password => "password", Token => "token", Refresh => "refresh", Disabled => "disabled" }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: SessionState,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: SendResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: StoreOp,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: AuthFailure,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4 s: a group commit on SSD to a database in trouble.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// The server's metrics; shared by every task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections: Gauge,
    sessions: Family<StateLabel, Gauge>,
    deliveries: Counter,
    sends: Family<ResultLabel, Counter>,
    resumes: Counter,
    replayed: Counter,
    resyncs: Counter,
    store_latency: Family<OpLabel, Histogram, fn() -> Histogram>,
    pubsub_lag: Histogram,
    auth_failures: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("confab"),
            connections: Gauge::default(),
            sessions: Family::default(),
            deliveries: Counter::default(),
            sends: Family::default(),
            resumes: Counter::default(),
            replayed: Counter::default(),
            resyncs: Counter::default(),
            store_latency: Family::new_with_constructor(latency_histogram),
            pubsub_lag: latency_histogram(),
            auth_failures: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "connections",
            "Open TCP connections (HTTP and WebSocket)",
            m.connections.clone(),
        );
        r.register(
            "sessions",
            "WebSocket sessions by state",
            m.sessions.clone(),
        );
        r.register(
            "deliveries",
            "Message frames written to clients (live, replayed and caught up)",
            m.deliveries.clone(),
        );
        r.register("sends", "Sends answered, by result", m.sends.clone());
        r.register(
            "resumes",
            "Joins that resumed after a known seq",
            m.resumes.clone(),
        );
        r.register(
            "replayed_messages",
            "Messages sent in join replays",
            m.replayed.clone(),
        );
        r.register(
            "slow_reader_resyncs",
            "Connections whose full queue was caught up from the database",
            m.resyncs.clone(),
        );
        r.register(
            "store_latency_seconds",
            "Time the database took, by operation",
            m.store_latency.clone(),
        );
        r.register(
            "pubsub_lag_seconds",
            "From another node ringing a doorbell to its arrival here",
            m.pubsub_lag.clone(),
        );
        r.register(
            "auth_failures",
            "Refused sign-ins, refreshes and connections, by reason",
            m.auth_failures.clone(),
        );
        m
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a connection for as long as the returned guard lives.
    pub fn connection(&self) -> GaugeGuard {
        GaugeGuard::new(self.connections.clone())
    }

    /// Counts a session in `state` for as long as the returned guard lives.
    pub fn session(&self, state: SessionState) -> GaugeGuard {
        GaugeGuard::new(self.sessions.get_or_create(&StateLabel { state }).clone())
    }

    pub fn delivered(&self, frames: u64) {
        self.deliveries.inc_by(frames);
    }

    pub fn send(&self, result: SendResult) {
        self.sends.get_or_create(&ResultLabel { result }).inc();
    }

    pub fn resumed(&self) {
        self.resumes.inc();
    }

    pub fn replayed(&self, messages: u64) {
        self.replayed.inc_by(messages);
    }

    pub fn resynced(&self) {
        self.resyncs.inc();
    }

    pub fn store(&self, op: StoreOp, took: Duration) {
        self.store_latency
            .get_or_create(&OpLabel { op })
            .observe(took.as_secs_f64());
    }

    pub fn pubsub_lag(&self, lag: Duration) {
        self.pubsub_lag.observe(lag.as_secs_f64());
    }

    pub fn auth_failed(&self, reason: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }
}

/// Decrements its gauge when dropped.
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
