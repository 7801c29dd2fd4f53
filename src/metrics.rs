//! Prometheus metrics: requests, logins by method and outcome, tokens by grant; who may read
//! them (`[metrics]`: direct peers in `allow`, optionally on a listener of its own).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::audit::{Audit, AuditEvent};
use crate::config::MetricsSettings;
use crate::config::Network;

/// The label of a route no pattern matched: unknown paths never become label values.
const UNMATCHED: &str = "unmatched";

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

/// The registry and the counters the server updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
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
        Metrics {
            registry,
            requests,
            logins,
            tokens,
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

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
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
        let labels = RequestLabels {
            method: method.to_owned(),
            route,
            status: res.status().as_u16().to_string(),
        };
        metrics.requests.get_or_create(&labels).inc();
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

/// Registers `/metrics` with where it is served and to whom (read by [`listener_paths`] too).
pub fn configure(cfg: &mut web::ServiceConfig, exposure: web::Data<Exposure>) {
    cfg.app_data(exposure)
        .route("/metrics", web::get().to(metrics));
}

/// `GET /metrics`, in the Prometheus text format, to the allowed direct peers only.
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
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
