//! Prometheus metrics: requests, logins by method and outcome, tokens by grant.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::app::AppState;

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

/// Middleware counting every request by route pattern and status.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().to_string();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let labels = RequestLabels {
            method,
            route,
            status: res.status().as_u16().to_string(),
        };
        state.metrics.requests.get_or_create(&labels).inc();
    }
    Ok(res)
}

/// `GET /metrics`, in the Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
