//! The instruments of `/metrics`: the Prometheus registry (prefix `trousseau`) and the
//! counters, gauges and histograms every layer updates — requests, logins, tokens,
//! synchronisations, calls to Pro Santé Connect and to the directory, card revocation lists,
//! pairings, sessions and the audit trail's queue (docs/operations.md, "Metrics").
//!
//! A foundation: the directory client, the repository's sync jobs and the PSC client record
//! here; `crate::metrics` serves the text and reads the gauges when it is scraped. Every label
//! value comes from a fixed list in this file, or from the configuration (the card CAs): no
//! request can add a series. Recording is one counter increment or one histogram observation;
//! the labels of the sync, PSC and directory series are `&'static str`: recording them
//! allocates nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::storage::metrics::Counts;

/// The buckets of the duration histograms, in seconds: from a LAN round trip to a directory
/// read that takes minutes.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// A synchronisation job (`sync` label: not `job`, which Prometheus gives every series of a
/// scrape target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncJob {
    Rpps,
    Hr,
    HrDates,
    Ldap,
}

impl SyncJob {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncJob::Rpps => "rpps",
            SyncJob::Hr => "hr",
            SyncJob::HrDates => "hr_dates",
            SyncJob::Ldap => "ldap",
        }
    }
}

/// How a run of a synchronisation job ended (`outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// It imported or changed something.
    Success,
    /// It ran without error and found nothing to do (same source, empty folder).
    Unchanged,
    /// Another node or command held the job's lease: this node did not run it.
    Busy,
    Failure,
}

impl SyncOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Success => "success",
            SyncOutcome::Unchanged => "unchanged",
            SyncOutcome::Busy => "busy",
            SyncOutcome::Failure => "failure",
        }
    }
}

/// A call to Pro Santé Connect (`call` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PscCall {
    /// The discovery document.
    Discovery,
    /// The signing keys.
    Jwks,
    /// The token endpoint redeeming an authorization code.
    Token,
    /// The backchannel authentication (CIBA) request.
    Ciba,
    /// The token endpoint polled for a CIBA request.
    CibaPoll,
    Userinfo,
}

impl PscCall {
    pub fn as_str(self) -> &'static str {
        match self {
            PscCall::Discovery => "discovery",
            PscCall::Jwks => "jwks",
            PscCall::Token => "token",
            PscCall::Ciba => "ciba",
            PscCall::CibaPoll => "ciba_poll",
            PscCall::Userinfo => "userinfo",
        }
    }
}

/// What became of a call to Pro Santé Connect (`outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PscOutcome {
    /// A 2xx answer.
    Success,
    /// Another answer below 500: an OAuth error such as `invalid_grant`, or CIBA's
    /// `authorization_pending` while the professional has not approved yet.
    Refused,
    /// A 5xx answer.
    ServerError,
    Timeout,
    /// The TLS handshake failed (server or organisation certificate).
    Tls,
    /// No connection (refused, unreachable, name not resolved).
    Unreachable,
    /// An answer that could not be read (cut short, too large).
    Invalid,
}

impl PscOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PscOutcome::Success => "success",
            PscOutcome::Refused => "refused",
            PscOutcome::ServerError => "server_error",
            PscOutcome::Timeout => "timeout",
            PscOutcome::Tls => "tls",
            PscOutcome::Unreachable => "unreachable",
            PscOutcome::Invalid => "invalid",
        }
    }

    /// The outcome of an answer with this HTTP status.
    pub fn of_status(status: u16) -> PscOutcome {
        match status {
            200..=299 => PscOutcome::Success,
            500.. => PscOutcome::ServerError,
            _ => PscOutcome::Refused,
        }
    }
}

/// An operation on the directory (`operation` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapOperation {
    /// Opening a connection (TCP and TLS, StartTLS included).
    Connect,
    /// A simple bind: the service account or a person's password.
    Bind,
    /// A search for one entry (a login, a DN, the rootDSE).
    Search,
    /// A whole paged search of the sync (every page of users or groups).
    PagedSearch,
    /// A password change, from the bind that proves the old password to the change.
    PasswordChange,
}

impl LdapOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            LdapOperation::Connect => "connect",
            LdapOperation::Bind => "bind",
            LdapOperation::Search => "search",
            LdapOperation::PagedSearch => "paged_search",
            LdapOperation::PasswordChange => "password_change",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    sync: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabel {
    sync: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PscLabels {
    call: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PscCallLabel {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// A card CA, as the issuer of a revocation list in force: only lists signed by a configured
/// CA are loaded, one per issuer, so the values are bounded by `[cps]`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuerLabel {
    issuer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type DurationFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The registry and the metrics the server updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    sync_runs: Family<SyncLabels, Counter>,
    sync_last_success: Family<SyncLabel, Gauge>,
    psc_requests: Family<PscLabels, Counter>,
    psc_durations: DurationFamily<PscCallLabel>,
    ldap_durations: DurationFamily<OperationLabel>,
    ldap_errors: Family<KindLabel, Counter>,
    crl_age: Family<IssuerLabel, Gauge>,
    crl_next_update: Family<IssuerLabel, Gauge>,
    pairings: Family<StateLabel, Gauge>,
    pairings_expiring: Gauge,
    audit_queue: Gauge,
    audit_unsealed: Gauge,
    sessions_active: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("trousseau");
        let requests = Family::<RequestLabels, Counter>::default();
        let logins = Family::<LoginLabels, Counter>::default();
        let tokens = Family::<TokenLabels, Counter>::default();
        let sync_runs = Family::<SyncLabels, Counter>::default();
        let sync_last_success = Family::<SyncLabel, Gauge>::default();
        let psc_requests = Family::<PscLabels, Counter>::default();
        let psc_durations =
            Family::<PscCallLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let ldap_durations =
            Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let ldap_errors = Family::<KindLabel, Counter>::default();
        let crl_age = Family::<IssuerLabel, Gauge>::default();
        let crl_next_update = Family::<IssuerLabel, Gauge>::default();
        let pairings = Family::<StateLabel, Gauge>::default();
        let pairings_expiring = Gauge::<i64>::default();
        let audit_queue = Gauge::<i64>::default();
        let audit_unsealed = Gauge::<i64>::default();
        let sessions_active = Gauge::<i64>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "logins",
            "Login attempts by method and outcome",
            logins.clone(),
        );
        registry.register(
            "tokens",
            "Token endpoint answers by grant and outcome",
            tokens.clone(),
        );
        registry.register(
            "sync_runs",
            "Runs of the synchronisation jobs by job and outcome",
            sync_runs.clone(),
        );
        registry.register_with_unit(
            "sync_last_success_timestamp",
            "When each synchronisation job last ended without error (Unix time)",
            Unit::Seconds,
            sync_last_success.clone(),
        );
        registry.register(
            "psc_requests",
            "Calls to Pro Santé Connect by call and outcome",
            psc_requests.clone(),
        );
        registry.register_with_unit(
            "psc_request_duration",
            "Duration of the calls to Pro Santé Connect, answer read",
            Unit::Seconds,
            psc_durations.clone(),
        );
        registry.register_with_unit(
            "ldap_operation_duration",
            "Duration of the operations on the directory",
            Unit::Seconds,
            ldap_durations.clone(),
        );
        registry.register(
            "ldap_errors",
            "Failed operations on the directory by kind of fault",
            ldap_errors.clone(),
        );
        registry.register_with_unit(
            "crl_age",
            "Age of the card revocation list in force, per issuing CA",
            Unit::Seconds,
            crl_age.clone(),
        );
        registry.register_with_unit(
            "crl_next_update_timestamp",
            "When the card revocation list in force expects its successor (Unix time)",
            Unit::Seconds,
            crl_next_update.clone(),
        );
        registry.register(
            "pairings",
            "e-CPS pairings by state (active, expired, revoked)",
            pairings.clone(),
        );
        registry.register(
            "pairings_expiring_7d",
            "Active e-CPS pairings expiring within 7 days",
            pairings_expiring.clone(),
        );
        registry.register(
            "audit_queue_depth",
            "Audit events waiting for the batched writer",
            audit_queue.clone(),
        );
        registry.register(
            "audit_events_unsealed",
            "Audit events written but not sealed into the hash chain yet",
            audit_unsealed.clone(),
        );
        registry.register(
            "sessions_active",
            "Live SSO sessions (not ended, expired or idle)",
            sessions_active.clone(),
        );
        Metrics {
            registry,
            requests,
            logins,
            tokens,
            sync_runs,
            sync_last_success,
            psc_requests,
            psc_durations,
            ldap_durations,
            ldap_errors,
            crl_age,
            crl_next_update,
            pairings,
            pairings_expiring,
            audit_queue,
            audit_unsealed,
            sessions_active,
        }
    }

    pub fn login(&self, method: &str, outcome: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                method: method.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn token(&self, grant: &str, outcome: &str) {
        self.tokens
            .get_or_create(&TokenLabels {
                grant: grant.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// One run of a synchronisation job that ended at `now`; a run without error moves the
    /// job's last success forward.
    pub fn sync_run(&self, job: SyncJob, outcome: SyncOutcome, now: i64) {
        self.sync_runs
            .get_or_create(&SyncLabels {
                sync: job.as_str(),
                outcome: outcome.as_str(),
            })
            .inc();
        if matches!(outcome, SyncOutcome::Success | SyncOutcome::Unchanged) {
            self.sync_succeeded_at(job, now);
        }
    }

    /// Moves the job's last success to `at` unless it is later already.
    fn sync_succeeded_at(&self, job: SyncJob, at: i64) {
        self.sync_last_success
            .get_or_create(&SyncLabel { sync: job.as_str() })
            .inner()
            .fetch_max(at, Ordering::Relaxed);
    }

    /// One call to Pro Santé Connect and how long it took.
    pub fn psc_call(&self, call: PscCall, outcome: PscOutcome, took: Duration) {
        let call = call.as_str();
        self.psc_requests
            .get_or_create(&PscLabels {
                call,
                outcome: outcome.as_str(),
            })
            .inc();
        self.psc_durations
            .get_or_create(&PscCallLabel { call })
            .observe(took.as_secs_f64());
    }

    /// One operation on the directory, and its fault when it failed (`None` when it
    /// succeeded, or when the directory answered about the person: a wrong password is not a
    /// fault).
    pub fn ldap_operation(
        &self,
        operation: LdapOperation,
        took: Duration,
        fault: Option<&'static str>,
    ) {
        self.ldap_durations
            .get_or_create(&OperationLabel {
                operation: operation.as_str(),
            })
            .observe(took.as_secs_f64());
        if let Some(kind) = fault {
            self.ldap_errors.get_or_create(&KindLabel { kind }).inc();
        }
    }

    /// One HTTP request answered (`method` from a fixed list, `route` a route pattern).
    pub fn request(&self, method: &'static str, route: String, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route,
                status: status.to_string(),
            })
            .inc();
    }

    /// The card revocation list in force for `issuer`: its age, and when it expects its
    /// successor (none: the series goes).
    pub fn crl_in_force(&self, issuer: &str, age: i64, next_update: Option<i64>) {
        let label = IssuerLabel {
            issuer: issuer.to_owned(),
        };
        self.crl_age.get_or_create(&label).set(age);
        match next_update {
            Some(next) => {
                self.crl_next_update.get_or_create(&label).set(next);
            }
            None => {
                self.crl_next_update.remove(&label);
            }
        }
    }

    /// How many messages wait for the audit writer.
    pub fn audit_queue(&self, depth: usize) {
        self.audit_queue
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The counts read from the database; the last successful runs it recorded move the
    /// jobs' last success forward.
    pub fn database_counts(&self, counts: &Counts) {
        self.sessions_active.set(counts.sessions_active);
        for (name, n) in [
            ("active", counts.pairings_active),
            ("expired", counts.pairings_expired),
            ("revoked", counts.pairings_revoked),
        ] {
            self.pairings
                .get_or_create(&StateLabel { state: name })
                .set(n);
        }
        self.pairings_expiring.set(counts.pairings_expiring);
        self.audit_unsealed.set(counts.audit_unsealed);
        for (job, at) in [
            (SyncJob::Rpps, counts.rpps_succeeded_at),
            (SyncJob::Hr, counts.hr_succeeded_at),
            (SyncJob::Ldap, counts.ldap_succeeded_at),
        ] {
            if let Some(at) = at {
                self.sync_succeeded_at(job, at);
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psc_outcomes_follow_the_status() {
        assert_eq!(PscOutcome::of_status(200), PscOutcome::Success);
        assert_eq!(PscOutcome::of_status(204), PscOutcome::Success);
        assert_eq!(PscOutcome::of_status(302), PscOutcome::Refused);
        assert_eq!(PscOutcome::of_status(400), PscOutcome::Refused);
        assert_eq!(PscOutcome::of_status(401), PscOutcome::Refused);
        assert_eq!(PscOutcome::of_status(500), PscOutcome::ServerError);
        assert_eq!(PscOutcome::of_status(503), PscOutcome::ServerError);
    }

    #[test]
    fn a_last_success_only_moves_forward() {
        let m = Metrics::new();
        let last = |job: SyncJob| {
            m.sync_last_success
                .get(&SyncLabel { sync: job.as_str() })
                .map(|g| g.get())
        };
        m.sync_run(SyncJob::Hr, SyncOutcome::Success, 100);
        m.sync_run(SyncJob::Hr, SyncOutcome::Unchanged, 50);
        assert_eq!(last(SyncJob::Hr), Some(100));
        m.sync_run(SyncJob::Hr, SyncOutcome::Unchanged, 150);
        m.sync_run(SyncJob::Hr, SyncOutcome::Failure, 200);
        m.sync_run(SyncJob::Hr, SyncOutcome::Busy, 300);
        assert_eq!(last(SyncJob::Hr), Some(150));
        m.sync_run(SyncJob::Rpps, SyncOutcome::Failure, 100);
        assert_eq!(last(SyncJob::Rpps), None);
        m.sync_succeeded_at(SyncJob::Rpps, 90);
        assert_eq!(last(SyncJob::Rpps), Some(90));
        let text = m.render();
        assert!(
            text.contains("trousseau_sync_runs_total{sync=\"hr\",outcome=\"failure\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("trousseau_sync_last_success_timestamp_seconds{sync=\"hr\"} 150"),
            "{text}"
        );
    }
}
