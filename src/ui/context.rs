//! The request context extractor: source address (X-Forwarded-For only from trusted proxies)
//! and the request id given by the tracing middleware.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};
use std::net::IpAddr;

use super::toolkit::WebSettings;
use crate::audit::RequestContext;

/// Newtype so that handlers can extract the context.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequest for Ctx {
    type Error = actix_web::Error;
    type Future = Ready<Result<Ctx, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Ctx(context_of(req))))
    }
}

pub fn context_of(req: &HttpRequest) -> RequestContext {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = |ip: IpAddr| {
        req.app_data::<web::Data<WebSettings>>()
            .is_some_and(|s| s.trusted_proxies.iter().any(|n| n.contains(ip)))
    };
    let source = match peer {
        Some(ip) if trusted(ip) => req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .or(Some(ip)),
        other => other,
    };
    RequestContext {
        source_ip: source.map(|ip| ip.to_string()),
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|r| r.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn source(settings: &web::Data<WebSettings>, peer: &str) -> Option<String> {
        let req = TestRequest::default()
            .peer_addr(peer.parse().unwrap())
            .insert_header(("x-forwarded-for", "192.0.2.7, 198.51.100.9"))
            .app_data(settings.clone())
            .to_http_request();
        context_of(&req).source_ip
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let settings = web::Data::new(WebSettings {
            trusted_proxies: vec![crate::config::Network::parse("10.0.0.0/31").unwrap()],
            origin: String::new(),
        });
        // The last hop, the one the trusted proxy added.
        assert_eq!(
            source(&settings, "10.0.0.1:4000").as_deref(),
            Some("198.51.100.9")
        );
        // A network counts for each of its addresses, and only those.
        assert_eq!(
            source(&settings, "10.0.0.0:4000").as_deref(),
            Some("198.51.100.9")
        );
        assert_eq!(
            source(&settings, "10.0.0.2:4000").as_deref(),
            Some("10.0.0.2")
        );
    }
}
