//! What the page toolkit (context, cookies, forms, pages, errors, languages) reads of the
//! configuration, registered on its own as app data: the toolkit never needs the whole state.

use crate::config::{HttpSettings, Network};

/// The toolkit's settings, built once from `[http]`.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Direct peers whose `X-Forwarded-For` is believed (`http.trusted_proxies`).
    pub trusted_proxies: Vec<Network>,
    /// The public origin (`scheme://host[:port]` of `http.public_url`), which a posted form's
    /// `Origin` header must match.
    pub origin: String,
}

impl WebSettings {
    pub fn new(http: &HttpSettings) -> WebSettings {
        WebSettings {
            trusted_proxies: http.trusted_networks(),
            origin: http.public_url.origin().ascii_serialization(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port_of_the_public_url() {
        let http = HttpSettings {
            bind: "127.0.0.1:0".into(),
            public_url: "https://sso.chu.example:8443/trousseau/".parse().unwrap(),
            workers: 1,
            trusted_proxies: Vec::new(),
        };
        assert_eq!(
            WebSettings::new(&http).origin,
            "https://sso.chu.example:8443"
        );
    }
}
