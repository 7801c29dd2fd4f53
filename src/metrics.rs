//! `/metrics`: who may read it (`[metrics]`: direct peers in `allow`, optionally on a listener
//! of its own), the request counter middleware, and the gauges read when it is scraped. The
//! instruments themselves are in [`crate::instruments`].
//!
//! When `/metrics` answers, the audit queue depth and the card revocation lists are read from
//! memory; the database counts (pairings, sessions, audit events not sealed, the last
//! successful synchronisations) at most once a minute ([`COUNTS_MAX_AGE`]), in one query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit::{Audit, AuditEvent};
use crate::authn::cps::Cps;
use crate::clock::SharedClock;
use crate::config::MetricsSettings;
use crate::config::Network;
use crate::instruments::Metrics;
use crate::storage::Db;

/// The label of a route no pattern matched: unknown paths never become label values.
const UNMATCHED: &str = "unmatched";

/// How old the database counts behind the gauges may be when `/metrics` answers.
pub const COUNTS_MAX_AGE: Duration = Duration::from_secs(60);

/// How long a scrape waits for the database counts before it answers with the previous ones.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(5);

/// "Expiring soon" for `trousseau_pairings_expiring_7d`.
const EXPIRING_WITHIN_SECS: i64 = 7 * 86_400;

/// What the gauges read at a scrape, lent by the application state when the server is built.
#[derive(Debug)]
pub struct Gauges {
    db: Db,
    clock: SharedClock,
    cps: Option<Arc<Cps>>,
    /// `session.idle_secs`: a session idle for longer is not live.
    idle_secs: i64,
    /// When the database counts were last read; held while they are read, so that concurrent
    /// scrapes read them once.
    counted_at: tokio::sync::Mutex<Option<Instant>>,
}

impl Gauges {
    pub fn new(db: Db, clock: SharedClock, cps: Option<Arc<Cps>>, idle_secs: i64) -> Gauges {
        Gauges {
            db,
            clock,
            cps,
            idle_secs,
            counted_at: tokio::sync::Mutex::new(None),
        }
    }

    /// Brings the gauges of `metrics` up to date for a scrape: the audit queue and the
    /// revocation lists now, the database counts when they are older than [`COUNTS_MAX_AGE`].
    pub async fn refresh(&self, metrics: &Metrics, audit: &Audit) {
        metrics.audit_queue(audit.queue_depth());
        let now = self.clock.now();
        if let Some(cps) = &self.cps {
            for crl in cps.verifier.crls.all() {
                metrics.crl_in_force(&crl.issuer, now - crl.this_update, crl.next_update);
            }
        }
        let mut counted_at = self.counted_at.lock().await;
        if counted_at.is_some_and(|at| at.elapsed() < COUNTS_MAX_AGE) {
            return;
        }
        // Read once a minute whatever the result: a database in trouble is not asked more.
        *counted_at = Some(Instant::now());
        let read = crate::storage::metrics::counts(
            self.db.pool(),
            now,
            now - self.idle_secs,
            now + EXPIRING_WITHIN_SECS,
        );
        match tokio::time::timeout(COUNTS_TIMEOUT, read).await {
            Ok(Ok(counts)) => metrics.database_counts(&counts),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: cannot read the database counts")
            }
            Err(_) => tracing::warn!(
                "metrics: the database counts took too long; the previous ones are served"
            ),
        }
    }
}

/// The method label: the standard methods by name, every other one as `OTHER`, so a client
/// cannot add label values (methods are arbitrary tokens of any length).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("OTHER", |m| m.as_str())
}

/// Middleware counting every request by method, route pattern and status.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.request(method, route, res.status().as_u16());
    }
    Ok(res)
}

/// Where `/metrics` is served and to whom, built once from `[metrics]`.
#[derive(Debug, Clone)]
pub struct Exposure {
    allow: Vec<Network>,
    /// The local address of the metrics listener (`metrics.bind`), when there is one.
    listener: Option<std::net::SocketAddr>,
}

/// Paths the metrics listener answers; anything else there is 404.
const LISTENER_PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

impl Exposure {
    pub fn new(
        settings: &MetricsSettings,
        listener: Option<std::net::SocketAddr>,
    ) -> anyhow::Result<Exposure> {
        let allow = settings
            .allow
            .iter()
            .map(|a| Network::parse(a).map_err(|m| anyhow::anyhow!("metrics.allow: {m}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Exposure { allow, listener })
    }

    fn on_listener(&self, req: &HttpRequest) -> bool {
        self.listener == Some(req.app_config().local_addr())
    }
}

/// Middleware keeping the metrics listener to `/metrics` and the probes.
pub async fn listener_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let confined = req
        .app_data::<web::Data<Exposure>>()
        .is_some_and(|e| e.on_listener(req.request()));
    if confined && !LISTENER_PATHS.contains(&req.path()) {
        return Ok(req.into_response(HttpResponse::NotFound().finish()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Registers `/metrics` with where it is served and to whom (read by [`listener_paths`] too)
/// and what its gauges read.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    exposure: web::Data<Exposure>,
    gauges: web::Data<Gauges>,
) {
    cfg.app_data(exposure)
        .app_data(gauges)
        .route("/metrics", web::get().to(metrics));
}

/// `GET /metrics`, in the Prometheus text format, to the allowed direct peers only.
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    gauges: web::Data<Gauges>,
    audit: web::Data<Audit>,
    exposure: web::Data<Exposure>,
) -> HttpResponse {
    // With a listener of its own, the public listener has no /metrics.
    if exposure.listener.is_some() && !exposure.on_listener(&req) {
        return crate::ui::error::not_found(req).await;
    }
    // The TCP peer, never X-Forwarded-For: a forwarded address is whatever the caller wrote.
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| exposure.allow.iter().any(|n| n.contains(ip))) {
        let ctx = crate::ui::context::context_of(&req);
        let ev = AuditEvent::failure("metrics_refused", "address_not_allowed")
            .context(&ctx)
            .details(serde_json::json!({ "peer": peer.map(|ip| ip.to_string()) }));
        audit.record(ev).await;
        return crate::ui::error::page(&req, StatusCode::FORBIDDEN, |t| t.forbidden_address);
    }
    gauges.refresh(&metrics, &audit).await;
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let long = Method::from_bytes("X".repeat(8000).as_bytes()).unwrap();
        assert_eq!(method_label(&long), "OTHER");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "OTHER");
    }
}
